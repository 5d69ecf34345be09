"""Pipeline benchmarks on the real broker: a :class:`Session` is one consumer group of worker
subprocesses (driftrec or the bare pass-through) that serves several measurements in a row.

* :meth:`Session.burst`: events produced in one burst, far faster than a worker drains them;
  throughput = distinct events / time from the first output to the last (saturation).
* :meth:`Session.latency`: events offered at fixed rates (open loop), latency percentiles.

Starting a worker costs seconds to tens of seconds (imports, model load, group join), so repeats
reuse one session; every burst and phase has its own event-id prefix and is read back by it.

Timing source: the output messages' Kafka timestamps (CreateTime, set by the worker's producer
when it appends the message, millisecond resolution) and the event's own ``ts`` field (set by
the benchmark's producer when it sends the event). Both clocks are this machine's wall clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.errors import BenchError
from bench.kafkaio import Received, TopicReader, produce_all, produce_paced, wait_for_count
from bench.stats import latency_summary, rate
from bench.targets import Run, Target
from bench.workers import WorkerProcess

Say = Callable[[str], None]
EventMaker = Callable[[str, int, float], tuple[bytes, bytes]]


@dataclass
class ThroughputResult:
    """One burst."""

    events_per_s: float
    outputs: int
    seconds: float
    out_bytes_mean: float
    peak_rss_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)


def event_maker(template: Sequence[tuple[bytes, bytes]]) -> EventMaker:
    """Cycle through pre-built events, rewriting ``event_id`` (prefix + i) and ``ts`` (now)."""
    decoded = [(k, json.loads(v)) for k, v in template]

    def make(prefix: str, i: int, now: float) -> tuple[bytes, bytes]:
        key, body = decoded[i % len(decoded)]
        body = body | {"event_id": f"{prefix}{i}", "ts": now}
        return key, json.dumps(body, separators=(",", ":")).encode()

    return make


class Session:
    """``workers`` workers of one target in one consumer group, started once, used many times."""

    def __init__(
        self,
        target: Target,
        bootstrap: str,
        scratch: Path,
        *,
        partitions: int,
        say: Say,
        workers: int = 1,
        ready_timeout_s: float = 300.0,
    ) -> None:
        self.target = target
        self.bootstrap = bootstrap
        self.say = say
        self.label = f"{target.name} x{workers}"
        self.run = Run.new(bootstrap, f"{target.name}-x{workers}", partitions, scratch)
        self.workers: list[WorkerProcess] = []
        self._expected = 0  # outputs the sink should hold so far (one per event)
        self._serial = 0
        self._reader: TopicReader | None = None
        self._seen: dict[str, list[tuple[str, float, Received]]] = {}  # prefix -> outputs
        t0 = time.monotonic()
        target.prepare(self.run)
        try:
            self._reader = TopicReader(bootstrap, self.run.sink)
            self.workers = [target.start_worker(self.run, i) for i in range(workers)]
            target.wait_ready(self.run, self.workers, ready_timeout_s)
        except BaseException:
            self.close()
            raise
        self.startup_s = time.monotonic() - t0
        say(f"{self.label}: ready in {self.startup_s:.0f} s")

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def peak_rss(self) -> int:
        return max((w.peak_rss for w in self.workers), default=0)

    def _prefix(self, label: str) -> str:
        self._serial += 1
        return f"{label}{self._serial}-"

    def _on_poll(self, expect: int) -> Callable[[int], None]:
        last = [time.monotonic()]

        def on_poll(count: int) -> None:
            for w in self.workers:
                w.check_alive()
                w.sample_rss()
            if time.monotonic() - last[0] > 5:
                self.say(f"{self.label}: {count:,}/{expect:,} outputs")
                last[0] = time.monotonic()

        return on_poll

    def _drain(self, timeout_s: float, idle_s: float | None = None) -> int:
        reached = wait_for_count(
            self.bootstrap,
            self.run.sink,
            self._expected,
            timeout_s,
            idle_s=idle_s,
            on_poll=self._on_poll(self._expected),
        )
        if reached < self._expected and idle_s is None:
            raise BenchError(
                f"{self.label}: {reached:,}/{self._expected:,} outputs within {timeout_s:.0f} s; "
                f"worker log {self.workers[0].log}:\n{self.workers[0].log_tail()}"
            )
        return reached

    def _outputs(self, prefix: str, count: int) -> list[tuple[str, float, Received]]:
        """(event id, event ts, record) of every output whose event id starts with ``prefix``
        (outputs are read once, incrementally, and filed under their prefix)."""
        assert self._reader is not None, "session is closed"
        for r in self._reader.read_until(count):
            event_id, event_ts = self.target.parse_output(r.value)
            key = event_id[: event_id.index("-") + 1] if "-" in event_id else ""
            self._seen.setdefault(key, []).append((event_id, event_ts, r))
        return list(self._seen.get(prefix, []))

    def _collect(self, prefix: str, count: int) -> tuple[list[Received], dict[str, int]]:
        """This prefix's outputs, and the first output time (ms) of each distinct event."""
        got: list[Received] = []
        first: dict[str, int] = {}
        for event_id, _, r in self._outputs(prefix, count):
            got.append(r)
            first[event_id] = min(first.get(event_id, r.timestamp_ms), r.timestamp_ms)
        return got, first

    def burst(self, make: EventMaker, n: int, timeout_s: float = 600.0) -> ThroughputResult:
        """Produce ``n`` events at once; time the first output of each distinct event.

        Redeliveries (after a rebalance, say) count as duplicates, not as throughput.
        """
        prefix = self._prefix("b")
        now = time.time()
        produce_all(self.bootstrap, self.run.source, (make(prefix, i, now) for i in range(n)))
        self._expected += n
        reached = self._drain(timeout_s)
        got, first = self._collect(prefix, reached)
        if len(first) < n:  # duplicates took part of the count: wait for the rest
            self._expected = reached + n - len(first)
            reached = self._drain(60.0)
            got, first = self._collect(prefix, reached)
            if len(first) < n:
                raise BenchError(f"{self.label}: {len(first)}/{n} distinct events came back")
        self._expected = reached
        stamps = sorted(first.values())
        seconds = (stamps[-1] - stamps[0]) / 1000.0
        if len(stamps) < 2 or seconds <= 0:
            raise BenchError(f"{self.label}: {len(stamps)} outputs in {seconds} s cannot be timed")
        return ThroughputResult(
            events_per_s=rate(len(stamps) - 1, seconds),
            outputs=len(stamps),
            seconds=seconds,
            out_bytes_mean=sum(len(r.value) for r in got) / len(got),
            peak_rss_bytes=self.peak_rss(),
            extra={"duplicates": len(got) - len(stamps)},
        )

    def latency(
        self,
        make: EventMaker,
        phases: Sequence[tuple[str, float]],
        seconds: float,
        warmup_s: float = 2.0,
    ) -> dict[str, dict[str, float]]:
        """Latency percentiles (ms) from event ``ts`` to output CreateTime per offered rate.

        ``phases`` are (label, events/s), e.g. ("1000", 1000.0) or ("saturation", measured max),
        each after the previous one has drained; a warm-up at 50 events/s comes first (none when
        ``warmup_s`` is 0).
        """
        plan = [("warmup", 50.0, warmup_s)] if warmup_s > 0 else []
        plan += [(label, r, seconds) for label, r in phases]
        prefixes = []
        for _label, offered, secs in plan:
            prefix = self._prefix("l")
            prefixes.append(prefix)
            self.say(f"{self.label}: offering {offered:,.0f} events/s for {secs:g} s")
            sent = produce_paced(
                self.bootstrap, self.run.source, _bind(make, prefix), offered, secs
            )
            self._expected += sent
            self._drain(timeout_s=60 + secs * 20)
        out: dict[str, dict[str, float]] = {}
        reached = self._expected
        skip = 1 if warmup_s > 0 else 0
        for (label, offered, secs), prefix in list(zip(plan, prefixes, strict=True))[skip:]:
            lat = [r.timestamp_ms - ts * 1000.0 for _, ts, r in self._outputs(prefix, reached)]
            if not lat:
                raise BenchError(f"{self.label}: no outputs for the {label} phase")
            out[label] = latency_summary(lat) | {"offered_per_s": offered, "seconds": secs}
        return out


def _bind(make: EventMaker, prefix: str) -> Callable[[int, float], tuple[bytes, bytes]]:
    def bound(i: int, now: float) -> tuple[bytes, bytes]:
        return make(prefix, i, now)

    return bound
