"""What a pipeline benchmark runs: the bare pass-through or driftrec, behind one small interface.

A :class:`Target` knows how to prepare its topics, start N worker subprocesses that consume
``source`` and publish to ``sink``, and read (event id, event timestamp) back from an output
message, so throughput, latency and scale-out code is written once for both.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.errors import SectionSkipped
from bench.kafkaio import create_topics
from bench.passthrough import PassthroughConfig, worker_env
from bench.workers import WorkerProcess, python_module


@dataclass(frozen=True)
class Run:
    """One pipeline run's names: unique topics and app id, and a scratch folder."""

    bootstrap: str
    run_id: str
    source: str
    sink: str
    partitions: int
    workdir: Path

    @staticmethod
    def new(bootstrap: str, label: str, partitions: int, scratch: Path) -> Run:
        run_id = f"bench-{label}-{uuid.uuid4().hex[:8]}"
        workdir = scratch / run_id
        workdir.mkdir(parents=True)
        return Run(
            bootstrap=bootstrap,
            run_id=run_id,
            source=f"{run_id}-events",
            sink=f"{run_id}-out",
            partitions=partitions,
            workdir=workdir,
        )


class Target(Protocol):
    """A system under benchmark."""

    name: str

    def prepare(self, run: Run) -> None:
        """Create topics and load whatever the workers need before events flow."""

    def start_worker(self, run: Run, index: int) -> WorkerProcess:
        """Start worker number ``index`` (0-based) of the run's consumer group."""

    def parse_output(self, value: bytes) -> tuple[str, float]:
        """(triggering event id, event timestamp in epoch seconds) of one output message."""


class Passthrough:
    """The bare Faust pass-through of :mod:`bench.passthrough`."""

    name = "bare"

    def __init__(self, out_bytes: int) -> None:
        self.out_bytes = out_bytes

    def prepare(self, run: Run) -> None:
        create_topics(run.bootstrap, [run.source, run.sink], run.partitions)

    def start_worker(self, run: Run, index: int) -> WorkerProcess:
        cfg = PassthroughConfig(
            app_id=run.run_id,
            bootstrap=run.bootstrap,
            source=run.source,
            sink=run.sink,
            partitions=run.partitions,
            out_bytes=self.out_bytes,
            datadir=str(run.workdir / f"worker-{index}"),
        )
        return WorkerProcess(
            python_module("bench.passthrough", "worker", "-l", "warn", "--without-web"),
            env=worker_env(cfg),
            log=run.workdir / f"worker-{index}.log",
            cwd=run.workdir,
        )

    def parse_output(self, value: bytes) -> tuple[str, float]:
        msg = json.loads(value)
        return str(msg["event_id"]), float(msg["event_ts"])


def driftrec_target(config: Any, settings: Any, **overrides: Any) -> Target:
    """The driftrec worker as a target; raises SectionSkipped until the worker exists."""
    raise SectionSkipped("the driftrec worker (`driftrec worker`) is not on this branch yet")
