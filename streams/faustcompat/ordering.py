"""Hand the engine each partition's events in offset order, never past a gap.

Profiles skip an event at or below the last offset they applied (that is what makes redelivery
harmless). That turns any *out-of-order* delivery into loss: if offset 165 of a partition is
applied before 142..151 arrive, those are skipped as "already applied". faust-streaming 0.15.3
does deliver out of order around rebalances and seeks (messages fetched before the seek to the
committed offset still reach the stream; see faust-streaming issues #216 and #221), and the
rebalance test caught it losing ten consecutive events.

:class:`InOrderGate` keeps, per partition and consumer generation, the next offset it expects:

* offset == expected: passed on, expected moves on;
* offset < expected: a redelivery, passed on (the profile skips it if it was applied);
* offset > expected: a gap. The event is held back (not processed, and marked untracked so that
  its acknowledgement does not make its offset committable, see :mod:`streams.faustcompat.acks`) and
  the consumer is asked to seek back to the expected offset, so the missing events and the held-back
  ones arrive again, in order.

A new generation (rebalance) starts every partition afresh, expecting the partition's *committed*
offset, asked of the broker (``start_offset``). Taking the first offset seen instead is not safe:
Faust resumes the flow before it seeks to the committed offsets, so the first message a new
generation delivers can be one prefetched past the committed position; everything between would
then pass as "redelivered" and be skipped by the profiles, i.e. lost. (A CI run of the rebalance
test on a loaded machine never applied all events after a rebalance, which fits this race.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
Seek = Callable[[Any, int], Awaitable[None]]  # (topic-partition, offset)
StartOffset = Callable[[Any], Awaitable[int]]  # topic-partition -> its committed offset


@dataclass
class NextOffsets:
    """Per partition, the next offset expected in the current consumer generation; a partition
    first seen in a generation starts at :func:`partition_start`."""

    generation: Callable[[], int]
    start_offset: StartOffset
    _next: dict[Any, int] = field(default_factory=dict)
    _gen: int | None = None

    def new_generation(self) -> bool:
        """Forget every partition when the generation changed (a rebalance); True then."""
        gen = self.generation()
        if gen == self._gen:
            return False
        self._gen, self._next = gen, {}
        return True

    async def get(self, tp: Any, first_seen: int) -> int:
        if tp not in self._next:
            self._next[tp] = await partition_start(self.start_offset, tp, first_seen)
        return self._next[tp]

    def passed(self, tp: Any, offset: int) -> None:
        """``offset`` of ``tp`` went through: the next one is expected."""
        self._next[tp] = offset + 1


@dataclass
class InOrderGate:
    """Filters each micro-batch; see the module docstring."""

    seek: Seek
    generation: Callable[[], int]
    start_offset: StartOffset
    on_gap: Callable[[int], None] = lambda held: None
    reseek_after_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _sought: dict[Any, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._next = NextOffsets(self.generation, self.start_offset)

    async def __call__(self, events: Sequence[Any]) -> list[Any]:
        if self._next.new_generation():
            self._sought = {}
        passed: list[Any] = []
        held: dict[Any, list[int]] = {}
        for ev in events:
            msg = ev.message
            tp, offset = msg.tp, msg.offset
            expected = await self._next.get(tp, offset)
            if tp in held or offset > expected:
                held.setdefault(tp, []).append(offset)
                # Not processed, so never safe to commit: streams.faustcompat.acks's ack skips
                # untracked messages when Faust acknowledges the batch.
                msg.tracked = False
                continue
            if offset >= expected:
                self._next.passed(tp, offset)
            passed.append(ev)
        for tp, offsets in held.items():
            await self._seek_back(tp, offsets)
        return passed

    async def rewind(self, events: Sequence[Any]) -> None:
        """``events`` went through but were not processed (the handler failed): mark them
        uncommittable, expect each partition's first of them next and seek there, so they come
        again in order (profiles skip the ones that were applied)."""
        first: dict[Any, int] = {}
        for ev in events:
            msg = ev.message
            msg.tracked = False
            first[msg.tp] = min(first.get(msg.tp, msg.offset), msg.offset)
        for tp, offset in first.items():
            self._next.passed(tp, offset - 1)
            self._sought[tp] = self.clock()
            try:
                await self.seek(tp, offset)
            except Exception as exc:  # revoked meanwhile: its next owner reads them
                log.warning("seek of %s[%d] to %d failed: %s", tp.topic, tp.partition, offset, exc)

    async def _seek_back(self, tp: Any, offsets: list[int]) -> None:
        expected = await self._next.get(tp, min(offsets))
        self.on_gap(len(offsets))
        now = self.clock()
        if now - self._sought.get(tp, float("-inf")) < self.reseek_after_s:
            return  # a seek is on its way; these are leftovers fetched before it
        self._sought[tp] = now
        log.warning(
            "%s[%d]: expected offset %d, got %d..%d: holding %d events back and seeking to %d "
            "so they are processed in order",
            tp.topic,
            tp.partition,
            expected,
            min(offsets),
            max(offsets),
            len(offsets),
            expected,
        )
        try:
            await self.seek(tp, expected)
        except Exception as exc:  # the partition may have been revoked meanwhile
            log.warning("seek of %s[%d] to %d failed: %s", tp.topic, tp.partition, expected, exc)


async def partition_start(start_offset: StartOffset, tp: Any, first_seen: int) -> int:
    """Where a new generation's stream of ``tp`` starts: its committed offset, or, when the broker
    cannot be asked, the first offset seen (with a warning)."""
    try:
        return await start_offset(tp)
    except Exception as exc:  # broker unreachable: fall back, loudly
        log.warning(
            "committed offset of %s[%d] unknown (%s); starting from the first offset seen, %d",
            tp.topic,
            tp.partition,
            exc,
            first_seen,
        )
        return first_seen
