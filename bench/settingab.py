"""Suite sections that set one worker setting two ways, two driftrec workers side by side in one
run: ``batch_mode`` (adaptive micro-batching against Faust's fixed ``take_events``,
``DRIFTREC_BATCH_MODE``) and ``gc_freeze`` (startup objects frozen out of garbage collection or
not, ``DRIFTREC_GC_FREEZE``).

The main driftrec session runs the configured value; a second worker runs the other one. Every
round gives each, in turn (which goes first alternates), one throughput burst and the latency
phases of the latency targets (200 events/s, and half of the main worker's saturation rate when
the throughput section measured it), so load from anything else on the machine falls on both
alike and their figures pair up round by round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.errors import SectionSkipped
from bench.pipeline import Session
from bench.pipelinebench import LOW_RATE, WARMUP_EVENTS, _driftrec, _main, stream_maker
from bench.verdicts import spread

if TYPE_CHECKING:
    from bench.suite import Context

#: Rounds per configured repeat: the differences measured here are small against this machine's
#: noise, so these sections take more rounds than the others.
ROUNDS_PER_REPEAT = 2


@dataclass(frozen=True)
class Comparison:
    """One setting, two values, each with the label its figures are reported under."""

    field: str
    values: tuple[Any, Any]
    labels: tuple[str, str]

    @property
    def ratio_key(self) -> str:
        return f"{self.labels[0]}_vs_{self.labels[1]}"


COMPARISONS = {
    "batch_mode": Comparison("batch_mode", ("adaptive", "fixed"), ("adaptive", "fixed")),
    "gc_freeze": Comparison("gc_freeze", (True, False), ("frozen", "unfrozen")),
}


def section(name: str) -> Callable[[Context], dict[str, Any]]:
    """The suite section comparing ``COMPARISONS[name]``."""
    return lambda ctx: {name: compare(ctx, COMPARISONS[name])}


def compare(ctx: Context, c: Comparison) -> dict[str, Any]:
    """Throughput and p50/p99 latency of both values of ``c.field``, rounds alternating."""
    cfg = ctx.config
    main = _main(ctx).get("driftrec")
    if main is None:
        raise SectionSkipped(ctx.report["skipped"].get("driftrec", "driftrec unavailable"))
    configured = getattr(ctx.settings, c.field)
    label_of = dict(zip(c.values, c.labels, strict=True))
    other = next(v for v in c.values if v != configured)
    target = _driftrec(ctx, **{c.field: other})
    assert target is not None  # the main session exists, so the target does
    make = stream_maker(ctx)
    phases = [(f"{LOW_RATE:g}", LOW_RATE)]
    sat = ctx.shared.get("driftrec_eps")
    if sat is not None:
        phases.append(("half_saturation", float(sat) / 2))
    runs: dict[str, dict[str, list[float]]] = {label: {} for label in c.labels}
    rounds = ROUNDS_PER_REPEAT * cfg.repeats

    def record(label: str, key: str, value: float) -> None:
        runs[label].setdefault(key, []).append(value)

    with Session(
        target, ctx.broker().bootstrap, ctx.scratch, partitions=cfg.partitions, say=ctx.say
    ) as second:
        second.burst(make, WARMUP_EVENTS)
        sessions = {label_of[configured]: main, label_of[other]: second}
        for r in range(rounds):
            # Each value goes first in every other round: neither always follows the other.
            for label in c.labels if r % 2 == 0 else c.labels[::-1]:
                s = sessions[label]
                record(label, "events_per_s", s.burst(make, cfg.throughput_events).events_per_s)
                lat = s.latency(make, phases, cfg.latency_seconds, warmup_s=0.0)
                for phase, _ in phases:
                    record(label, f"p50_ms_{phase}", lat[phase]["p50"])
                    record(label, f"p99_ms_{phase}", lat[phase]["p99"])
            ctx.say(
                f"{c.field}, round {r + 1}/{rounds}: "
                + "; ".join(
                    f"{label} {runs[label]['events_per_s'][-1]:,.0f} events/s, p99 at "
                    f"{phases[0][0]}/s {runs[label][f'p99_ms_{phases[0][0]}'][-1]:,.0f} ms"
                    for label in c.labels
                )
            )
    a, b = c.labels
    out: dict[str, Any] = {
        "configured": label_of[configured],
        "labels": list(c.labels),
        "rounds": rounds,
        "phases": {label: rate for label, rate in phases},
        "note": f"two driftrec workers, one per {c.field} value, same run; rounds alternate; "
        f"ratios {a}/{b} per round",
    }
    for label in c.labels:
        out[label] = {k: spread(v) for k, v in runs[label].items()}
    out[c.ratio_key] = {
        key: spread([x / y for x, y in zip(runs[a][key], runs[b][key], strict=True) if y > 0])
        for key in runs[a]
    }
    return out
