"""Suite section ``batch_mode``: driftrec's adaptive micro-batching against Faust's fixed
``take_events`` (``DRIFTREC_BATCH_MODE``), two workers side by side in one run.

The main driftrec session runs the configured mode (adaptive by default); a second worker runs
the other one. Every round gives each, in turn (which goes first alternates), one throughput
burst and the latency phases of the latency targets (200 events/s, and half of the main worker's
saturation rate when the throughput section measured it), so load from anything else on the
machine falls on both modes alike and their figures pair up round by round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.errors import SectionSkipped
from bench.pipeline import Session
from bench.pipelinebench import LOW_RATE, WARMUP_EVENTS, _driftrec, _main, stream_maker
from bench.stats import summarize

if TYPE_CHECKING:
    from bench.suite import Context

MODES = ("adaptive", "fixed")
#: Rounds per configured repeat: the difference between the modes is small against this
#: machine's noise, so this section takes more rounds than the others.
ROUNDS_PER_REPEAT = 2


def batch_mode(ctx: Context) -> dict[str, Any]:
    """Throughput and p50/p99 latency of both batch modes, rounds alternating."""
    cfg = ctx.config
    main = _main(ctx).get("driftrec")
    if main is None:
        raise SectionSkipped(ctx.report["skipped"].get("driftrec", "driftrec unavailable"))
    configured = ctx.settings.batch_mode
    other_mode = next(m for m in MODES if m != configured)
    target = _driftrec(ctx, batch_mode=other_mode)
    assert target is not None  # the main session exists, so the target does
    make = stream_maker(ctx)
    phases = [(f"{LOW_RATE:g}", LOW_RATE)]
    sat = ctx.shared.get("driftrec_eps")
    if sat is not None:
        phases.append(("half_saturation", float(sat) / 2))
    runs: dict[str, dict[str, list[float]]] = {m: {} for m in MODES}
    rounds = ROUNDS_PER_REPEAT * cfg.repeats

    def record(mode: str, key: str, value: float) -> None:
        runs[mode].setdefault(key, []).append(value)

    with Session(
        target, ctx.broker().bootstrap, ctx.scratch, partitions=cfg.partitions, say=ctx.say
    ) as other:
        other.burst(make, WARMUP_EVENTS)
        sessions = {configured: main, other_mode: other}
        for r in range(rounds):
            # Each mode goes first in every other round: neither always follows the other.
            for mode in MODES if r % 2 == 0 else MODES[::-1]:
                s = sessions[mode]
                record(mode, "events_per_s", s.burst(make, cfg.throughput_events).events_per_s)
                lat = s.latency(make, phases, cfg.latency_seconds, warmup_s=0.0)
                for label, _ in phases:
                    record(mode, f"p50_ms_{label}", lat[label]["p50"])
                    record(mode, f"p99_ms_{label}", lat[label]["p99"])
            ctx.say(
                f"batch modes, round {r + 1}/{rounds}: "
                + "; ".join(
                    f"{m} {runs[m]['events_per_s'][-1]:,.0f} events/s, p99 at "
                    f"{phases[0][0]}/s {runs[m][f'p99_ms_{phases[0][0]}'][-1]:,.0f} ms"
                    for m in MODES
                )
            )
    out: dict[str, Any] = {
        "configured": configured,
        "rounds": rounds,
        "phases": {label: rate for label, rate in phases},
        "note": "two driftrec workers, one per mode, same run; rounds alternate; "
        "ratios adaptive/fixed per round",
    }
    for mode in MODES:
        out[mode] = {k: _spread(v) for k, v in runs[mode].items()}
    out["adaptive_vs_fixed"] = {
        key: _spread(
            [a / f for a, f in zip(runs["adaptive"][key], runs["fixed"][key], strict=True) if f > 0]
        )
        for key in runs["adaptive"]
    }
    return {"batch_mode": out}


def _spread(values: list[float]) -> dict[str, Any]:
    s = summarize(values)
    return {"median": s.median, "min": s.lo, "max": s.hi, "runs": len(values), "values": values}
