"""Is the worker consuming? What ``/health`` reports besides the model.

A worker can look alive (HTTP answers, model loaded) while it consumes nothing: its events agent
died, it hangs in a shutdown, or every batch fails transiently and is retried forever. The
events agent reports each finished batch and its own end here, the lag timer reports the lag of
the partitions it owns, and :meth:`Progress.problem` turns that into a reason for a 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Progress:
    """Progress of the events agent; one per worker."""

    stall_after_s: float
    clock: Callable[[], float] = time.monotonic
    last_batch: float = field(default=0.0)
    lag: int = 0
    agent_running: bool = False
    agent_ended: str | None = None
    restarts: int = 0  # starts after the agent ended (Faust's supervisor restarts a crashed agent)

    def __post_init__(self) -> None:
        self.last_batch = self.clock()  # the start counts as progress

    def started(self) -> None:
        """The agent (re)started. Only its first start counts as progress: an agent that
        crashes and is restarted over and over is stalled, not fresh."""
        if self.agent_ended is not None:
            self.restarts += 1
        elif not self.agent_running:
            self.last_batch = self.clock()
        self.agent_running, self.agent_ended = True, None

    def batch_done(self) -> None:
        self.last_batch = self.clock()

    def ended(self, why: str) -> None:
        self.agent_running, self.agent_ended = False, why

    def problem(self) -> str | None:
        """Why the worker is not consuming, or None while it is (or has nothing to consume)."""
        if self.agent_ended is not None:
            return f"the events agent stopped: {self.agent_ended}"
        idle = self.clock() - self.last_batch
        if self.lag > 0 and idle > self.stall_after_s:
            return (
                f"{self.lag} events waiting and no batch finished for {idle:.0f}s "
                f"(limit DRIFTREC_STALL_AFTER_S={self.stall_after_s:g})"
            )
        return None
