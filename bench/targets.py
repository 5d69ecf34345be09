"""What a pipeline benchmark runs: the bare pass-through or driftrec, behind one small interface.

A :class:`Target` knows how to prepare its topics, start worker subprocesses that consume
``source`` and publish to ``sink``, tell when they are ready (group formed, model and catalog
loaded), and read (event id, event timestamp) back from an output message, so the throughput,
latency and scale-out code is written once for both.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.errors import BenchError, SectionSkipped
from bench.events import encode_item
from bench.kafkaio import create_topics, group_members, produce_all
from bench.passthrough import PassthroughConfig, worker_env
from bench.rawpassthrough import RawConfig
from bench.rawpassthrough import worker_env as raw_env
from bench.workers import WorkerProcess, python_module
from ops.localkafka.launcher import free_port
from streams.messages.records import ItemRecord

#: Worker log level. Not "warn": at WARN and above, Faust's worker attaches its terminal spinner
#: and sets the root logger to DEBUG, so every aiokafka debug call builds a LogRecord (about 10 %
#: of the event loop's time in both workers, measured with py-spy).
LOGLEVEL = "info"


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

    def start(self, index: int, argv: Sequence[str], env: Mapping[str, str]) -> WorkerProcess:
        """Worker number ``index`` of this run: ``argv`` run in the run's folder, its log there."""
        return WorkerProcess(argv, env, self.workdir / f"worker-{index}.log", self.workdir)


class Target(Protocol):
    """A system under benchmark."""

    name: str

    def prepare(self, run: Run) -> None:
        """Create topics and load whatever the workers need before events flow."""

    def start_worker(self, run: Run, index: int) -> WorkerProcess:
        """Start worker number ``index`` (0-based) of the run's consumer group."""

    def wait_ready(self, run: Run, workers: Sequence[WorkerProcess], timeout_s: float) -> None:
        """Return once every worker consumes its share and could process an event at once."""

    def parse_output(self, value: bytes) -> tuple[str, float]:
        """(triggering event id, event timestamp in epoch seconds) of one output message."""


def wait_for_group(run: Run, workers: Sequence[WorkerProcess], timeout_s: float) -> None:
    """Wait until the run's consumer group is stable with every worker holding a partition."""
    deadline = time.monotonic() + timeout_s
    while group_members(run.bootstrap, run.run_id, run.source) < len(workers):
        for w in workers:
            w.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(
                f"{len(workers)} worker(s) of {run.run_id} did not form a stable group in "
                f"{timeout_s:.0f} s; log of the first: {workers[0].log}\n{workers[0].log_tail()}"
            )
        time.sleep(0.3)


class _PassthroughTarget:
    """What both pass-throughs share: topics, readiness by group, and the answer's format."""

    name = ""

    def __init__(self, out_bytes: int, batch_max: int = 256, batch_wait_s: float = 0.05) -> None:
        self.out_bytes = out_bytes
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s

    def prepare(self, run: Run) -> None:
        create_topics(run.bootstrap, [run.source, run.sink], run.partitions)

    def wait_ready(self, run: Run, workers: Sequence[WorkerProcess], timeout_s: float) -> None:
        wait_for_group(run, workers, timeout_s)

    def parse_output(self, value: bytes) -> tuple[str, float]:
        msg = json.loads(value)
        return str(msg["event_id"]), float(msg["event_ts"])


class Passthrough(_PassthroughTarget):
    """The bare Faust pass-through of :mod:`bench.passthrough`, batching like driftrec."""

    name = "bare"

    def start_worker(self, run: Run, index: int) -> WorkerProcess:
        cfg = PassthroughConfig(
            app_id=run.run_id,
            bootstrap=run.bootstrap,
            source=run.source,
            sink=run.sink,
            partitions=run.partitions,
            out_bytes=self.out_bytes,
            datadir=str(run.workdir / f"worker-{index}"),
            batch_max=self.batch_max,
            batch_wait_s=self.batch_wait_s,
        )
        argv = python_module("bench.passthrough", "worker", "-l", LOGLEVEL, "--without-web")
        return run.start(index, argv, worker_env(cfg))


class RawPassthrough(_PassthroughTarget):
    """The raw aiokafka pass-through of :mod:`bench.rawpassthrough` (no framework)."""

    name = "raw"

    def start_worker(self, run: Run, index: int) -> WorkerProcess:
        cfg = RawConfig(
            group=run.run_id,
            bootstrap=run.bootstrap,
            source=run.source,
            sink=run.sink,
            out_bytes=self.out_bytes,
            batch_max=self.batch_max,
            batch_wait_s=self.batch_wait_s,
        )
        return run.start(index, python_module("bench.rawpassthrough"), raw_env(cfg))


def _health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            body: dict[str, Any] = json.loads(resp.read())
            return body
    except (urllib.error.URLError, OSError, ValueError):
        return None


class Driftrec:
    """driftrec's own worker (``driftrec worker``), configured through DRIFTREC_* variables.

    Every run gets its own topics, app id, RocksDB folder and web port; the text-vector cache
    (under ``home``) is shared by all runs of a suite, as it is by workers on one machine, so
    only the first run pays for embedding the catalog. ``overrides`` are Settings fields (e.g.
    ``batch_max``); by default ``refresh_events=1`` makes every event publish a list, so driftrec
    and the pass-through produce one message per event.
    """

    name = "driftrec"

    def __init__(
        self, home: Path, items: Sequence[ItemRecord], overrides: Mapping[str, Any]
    ) -> None:
        self.home = home
        self.items = list(items)
        self.overrides = {"refresh_events": 1, **overrides}
        self._ports: dict[int, int] = {}  # worker pid -> web port

    def _fields(self, run: Run, index: int, port: int) -> dict[str, Any]:
        return {
            "home": self.home,
            "bootstrap_servers": run.bootstrap,
            "events_topic": run.source,
            "recommendations_topic": run.sink,
            "items_topic": f"{run.run_id}-items",
            "partitions": run.partitions,
            "app_id": run.run_id,
            "web_port": port,
            "data_dir": run.workdir / f"worker-{index}",
            **self.overrides,
        }

    def _env(self, run: Run, index: int, port: int) -> dict[str, str]:
        return {f"DRIFTREC_{k.upper()}": str(v) for k, v in self._fields(run, index, port).items()}

    def prepare(self, run: Run) -> None:
        from streams.settings import Settings
        from streams.topics import ensure_topics

        ensure_topics(Settings(**self._fields(run, 0, 1)))
        produce_all(run.bootstrap, f"{run.run_id}-items", (encode_item(i) for i in self.items))

    def start_worker(self, run: Run, index: int) -> WorkerProcess:
        port = free_port()
        driftrec = shutil.which("driftrec", path=str(Path(sys.executable).parent))
        if driftrec is None:
            raise BenchError(f"no driftrec command next to {sys.executable}; run ops/setup.sh")
        argv = [driftrec, "worker", "--loglevel", LOGLEVEL]
        worker = run.start(index, argv, self._env(run, index, port))
        self._ports[worker.pid] = port
        return worker

    def port(self, worker: WorkerProcess) -> int:
        """The web port (HTTP views, /metrics) of one of this target's workers."""
        return self._ports[worker.pid]

    def wait_ready(self, run: Run, workers: Sequence[WorkerProcess], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for w in workers:
            while True:
                w.check_alive()
                health = _health(self._ports[w.pid])
                loaded = (health or {}).get("catalog_items") or 0
                if health and health.get("status") == "ok" and loaded >= len(self.items):
                    break
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"driftrec worker {w.pid} not ready in {timeout_s:.0f} s (health "
                        f"{health}); log {w.log}:\n{w.log_tail()}"
                    )
                time.sleep(0.3)
        wait_for_group(run, workers, max(1.0, deadline - time.monotonic()))

    def parse_output(self, value: bytes) -> tuple[str, float]:
        msg = json.loads(value)
        return str(msg["event_id"]), float(msg["event_ts"])


def driftrec_target(home: Path, items: Sequence[ItemRecord], **overrides: Any) -> Driftrec:
    """The driftrec worker as a target; SectionSkipped when this install has no worker."""
    try:
        import streams.worker.app  # noqa: F401 - only checks that the worker is importable
    except ImportError as exc:
        raise SectionSkipped(f"the driftrec worker cannot be imported here: {exc}") from exc
    return Driftrec(home, items, overrides)
