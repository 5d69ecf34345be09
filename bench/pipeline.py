"""Pipeline benchmarks on the real broker: throughput, latency at offered rates, scale-out.

All three are written against :class:`bench.targets.Target`, so driftrec and the bare
pass-through are measured by the same code, on the same broker, with the same events.

Timing source: the output messages' Kafka timestamps (CreateTime, set by the worker's producer
when it appends the message, millisecond resolution) and the event's own ``ts`` field (set by
the benchmark's producer at send time). Both clocks are this machine's wall clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.kafkaio import (
    Received,
    group_members,
    produce_all,
    produce_paced,
    read_topic,
    wait_for_count,
)
from bench.stats import latency_summary, rate
from bench.targets import Run, Target
from bench.workers import WorkerProcess

Say = Callable[[str], None]


@dataclass
class ThroughputResult:
    """One throughput run."""

    events_per_s: float
    outputs: int
    seconds: float
    out_bytes_mean: float
    peak_rss_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)


def _watch(workers: Sequence[WorkerProcess], say: Say, label: str, expect: int) -> Any:
    last = [0.0]

    def on_poll(count: int) -> None:
        for w in workers:
            w.check_alive()
            w.sample_rss()
        now = time.monotonic()
        if now - last[0] > 5:
            say(f"{label}: {count}/{expect} outputs")
            last[0] = now

    return on_poll


def _stop_all(workers: Sequence[WorkerProcess]) -> None:
    for w in workers:
        w.stop()


def _first_outputs(target: Target, got: Sequence[Received]) -> dict[str, int]:
    first: dict[str, int] = {}
    for r in got:
        event_id, _ = target.parse_output(r.value)
        first[event_id] = min(first.get(event_id, r.timestamp_ms), r.timestamp_ms)
    return first


def _result(
    target: Target, bootstrap: str, run: Run, expect: int, workers: Sequence[WorkerProcess]
) -> ThroughputResult:
    """Time the first output of every distinct event: redeliveries (after a rebalance, say) are
    counted as duplicates, not as throughput."""
    got = read_topic(bootstrap, run.sink, expect)
    first = _first_outputs(target, got)
    if len(first) < expect:  # duplicates took some of the count: wait for the missing ones
        more = wait_for_count(bootstrap, run.sink, len(got) + expect - len(first), 60, idle_s=3)
        got = read_topic(bootstrap, run.sink, more)
        first = _first_outputs(target, got)
    stamps = sorted(first.values())
    seconds = (stamps[-1] - stamps[0]) / 1000.0 if stamps else 0.0
    if len(stamps) < 2 or seconds <= 0:
        raise BenchError(f"{target.name}: {len(stamps)} outputs over {seconds} s cannot be timed")
    return ThroughputResult(
        events_per_s=rate(len(stamps) - 1, seconds),
        outputs=len(stamps),
        seconds=seconds,
        out_bytes_mean=sum(len(r.value) for r in got) / len(got),
        peak_rss_bytes=max(w.peak_rss for w in workers),
        extra={"duplicates": len(got) - len(stamps)},
    )


def throughput(
    target: Target,
    bootstrap: str,
    scratch: Path,
    events: Sequence[tuple[bytes, bytes]],
    *,
    partitions: int,
    expect_outputs: int,
    say: Say,
    timeout_s: float = 600.0,
) -> ThroughputResult:
    """Pre-produce ``events``, start one worker, time its outputs from first to last.

    The events wait in the topic before the worker starts, so start-up is outside the window and
    the worker runs flat out: this is its saturation throughput.
    """
    run = Run.new(bootstrap, f"{target.name}-tput", partitions, scratch)
    target.prepare(run)
    produce_all(bootstrap, run.source, events)
    worker = target.start_worker(run, 0)
    try:
        n = wait_for_count(
            bootstrap,
            run.sink,
            expect_outputs,
            timeout_s,
            on_poll=_watch([worker], say, f"{target.name} throughput", expect_outputs),
        )
    finally:
        worker.stop()
    if n < expect_outputs:
        raise BenchError(
            f"{target.name}: {n}/{expect_outputs} outputs within {timeout_s:.0f} s; "
            f"worker log {worker.log}:\n{worker.log_tail()}"
        )
    return _result(target, bootstrap, run, expect_outputs, [worker])


EventMaker = Callable[[str, int, float], tuple[bytes, bytes]]


def latency(
    target: Target,
    bootstrap: str,
    scratch: Path,
    make_event: EventMaker,
    *,
    phases: Sequence[tuple[str, float]],
    seconds: float,
    partitions: int,
    outputs_per_event: float,
    say: Say,
    warmup_s: float = 3.0,
) -> dict[str, dict[str, float]]:
    """Latency percentiles (ms) from event ``ts`` to output CreateTime at each offered rate.

    ``phases`` are (label, events/s), e.g. ("1000", 1000.0) or ("saturation", measured max).
    One worker serves every rate in turn (after a warm-up at 50 events/s), each phase drained
    before the next starts. ``outputs_per_event`` (1 for one list per event) sets how many
    outputs a phase waits for; phases that publish fewer end after 3 s without output.
    """
    run = Run.new(bootstrap, f"{target.name}-lat", partitions, scratch)
    target.prepare(run)
    worker = target.start_worker(run, 0)
    plan = [("warmup", 50.0, warmup_s)] + [(label, r, seconds) for label, r in phases]
    expected = 0
    try:
        for label, offered, secs in plan:
            say(f"{target.name} latency: offering {offered:g} events/s for {secs:g} s")
            sent = produce_paced(
                bootstrap, run.source, _prefixed(make_event, f"{label}-"), offered, secs
            )
            expected += round(sent * outputs_per_event)
            reached = wait_for_count(
                bootstrap,
                run.sink,
                expected,
                timeout_s=60 + secs * 10,
                idle_s=3.0,
                on_poll=_watch([worker], say, f"{target.name} latency {label}", expected),
            )
            expected = reached  # a phase that published less must not stall the next
            worker.sample_rss()
    finally:
        worker.stop()
    got = read_topic(bootstrap, run.sink, expected)
    by_phase: dict[str, list[float]] = {}
    for r in got:
        event_id, event_ts = target.parse_output(r.value)
        phase = event_id.split("-", 1)[0]
        by_phase.setdefault(phase, []).append(r.timestamp_ms - event_ts * 1000.0)
    out: dict[str, dict[str, float]] = {}
    for label, offered, secs in plan[1:]:
        lat = by_phase.get(label)
        if not lat:
            raise BenchError(f"{target.name}: no outputs for the {offered:g} events/s phase")
        out[label] = latency_summary(lat) | {"offered_per_s": offered, "seconds": secs}
    return out


def scale_out(
    target: Target,
    bootstrap: str,
    scratch: Path,
    events: Sequence[tuple[bytes, bytes]],
    *,
    workers: int,
    partitions: int,
    expect_outputs: int,
    say: Say,
    timeout_s: float = 600.0,
) -> ThroughputResult:
    """Throughput of ``workers`` workers in one group: start them, wait until the group is stable
    with every member assigned, then produce the events in one burst and time the outputs.

    The same procedure serves the 1-worker baseline, so the burst producer's share of the CPU is
    the same on both sides of the ratio.
    """
    run = Run.new(bootstrap, f"{target.name}-scale{workers}", partitions, scratch)
    target.prepare(run)
    procs = [target.start_worker(run, i) for i in range(workers)]
    try:
        deadline = time.monotonic() + 120
        while group_members(bootstrap, run.run_id, run.source) < workers:
            for p in procs:
                p.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"{workers} workers did not form a stable group in 120 s")
            time.sleep(0.5)
        say(f"{target.name} scale-out: {workers} worker(s) joined; producing")
        produce_all(bootstrap, run.source, events)
        n = wait_for_count(
            bootstrap,
            run.sink,
            expect_outputs,
            timeout_s,
            on_poll=_watch(procs, say, f"{target.name} x{workers}", expect_outputs),
        )
    finally:
        _stop_all(procs)
    if n < expect_outputs:
        raise BenchError(f"{target.name} x{workers}: {n}/{expect_outputs} outputs")
    return _result(target, bootstrap, run, expect_outputs, procs)


def _prefixed(make: EventMaker, prefix: str) -> Callable[[int, float], tuple[bytes, bytes]]:
    def bound(i: int, now: float) -> tuple[bytes, bytes]:
        return make(prefix, i, now)

    return bound


def event_maker(template: Sequence[tuple[bytes, bytes]]) -> EventMaker:
    """Cycle through pre-built events, rewriting ``event_id`` and ``ts`` at send time."""
    decoded = [(k, json.loads(v)) for k, v in template]

    def make(prefix: str, i: int, now: float) -> tuple[bytes, bytes]:
        key, body = decoded[i % len(decoded)]
        body = body | {"event_id": f"{prefix}{i}", "ts": now}
        return key, json.dumps(body, separators=(",", ":")).encode()

    return make
