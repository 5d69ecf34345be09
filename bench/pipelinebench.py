"""Suite sections that run workers on the broker: throughput, latency, batching, scale-out.

driftrec and the bare pass-through run in the same section, alternating run by run (ABAB), so
that load from anything else on the machine falls on both sides of every ratio.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from bench import pipeline
from bench.errors import SectionSkipped
from bench.events import encode_event, make_events
from bench.stats import summarize
from bench.targets import Passthrough, Target, driftrec_target

if TYPE_CHECKING:
    from bench.suite import Context

#: Items per list in the size estimate used before driftrec's real output size is known.
SAMPLE_K = 10


def sample_list_bytes(k: int = SAMPLE_K) -> int:
    """Bytes of a recommendations message (DESIGN.md contract) with ``k`` items."""
    msg = {
        "user_id": "u0000123",
        "items": [{"item_id": f"i{i:07d}", "score": 0.123456789} for i in range(k)],
        "trigger": "drift",
        "drift": 0.2345678,
        "model_version": "m-0123456789ab",
        "event_id": "e123456",
        "event_ts": 1_800_000_000.123456,
        "published_ts": 1_800_000_000.234567,
    }
    return len(json.dumps(msg, separators=(",", ":")).encode())


def _events(ctx: Context) -> list[tuple[bytes, bytes]]:
    """The event set shared by every pipeline run of this suite."""
    if "events" not in ctx.shared:
        cfg = ctx.config
        ctx.shared["events"] = [
            encode_event(e)
            for e in make_events(
                cfg.throughput_events, cfg.users, cfg.items, seed=cfg.seed, start_ts=time.time()
            )
        ]
    events: list[tuple[bytes, bytes]] = ctx.shared["events"]
    return events


def _driftrec(ctx: Context, **overrides: Any) -> Target | None:
    """The driftrec target, or None with the reason recorded when it cannot run yet."""
    try:
        return driftrec_target(ctx.config, ctx.settings, **overrides)
    except SectionSkipped as exc:
        ctx.report["skipped"]["driftrec"] = str(exc)
        return None


def _bare(ctx: Context) -> Passthrough:
    return Passthrough(int(ctx.shared.get("out_bytes", sample_list_bytes())))


def throughput(ctx: Context) -> dict[str, Any]:
    """Saturation throughput of one driftrec worker and of the bare pass-through, ABAB."""
    cfg, b = ctx.config, ctx.broker()
    events = _events(ctx)
    drift = _driftrec(ctx)
    runs: list[dict[str, float]] = []
    for i in range(cfg.repeats):
        run: dict[str, float] = {}
        if drift is not None:
            d = pipeline.throughput(
                drift,
                b.bootstrap,
                ctx.scratch,
                events,
                partitions=cfg.partitions,
                expect_outputs=len(events),
                say=ctx.say,
            )
            ctx.shared["out_bytes"] = d.out_bytes_mean
            run["driftrec"] = d.events_per_s
            run["driftrec_rss"] = d.peak_rss_bytes
        bare = pipeline.throughput(
            _bare(ctx),
            b.bootstrap,
            ctx.scratch,
            events,
            partitions=cfg.partitions,
            expect_outputs=len(events),
            say=ctx.say,
        )
        run["bare"] = bare.events_per_s
        if "driftrec" in run:
            run["ratio"] = run["driftrec"] / run["bare"]
        runs.append(run)
        ctx.say(
            f"throughput run {i + 1}/{cfg.repeats}: "
            + ", ".join(f"{k} {v:,.3g}" for k, v in run.items() if not k.endswith("rss"))
        )
    bare_s = summarize([r["bare"] for r in runs])
    ctx.shared["bare_eps"] = bare_s.median
    out: dict[str, Any] = {
        "bare_events_per_s": bare_s.median,
        "driftrec_events_per_s": None,
        "ratio": None,
        "events": len(events),
        "out_bytes": int(ctx.shared.get("out_bytes", sample_list_bytes())),
        "timing": "first to last output, output CreateTime; events pre-produced",
        "runs": runs,
        "spread": {"bare": bare_s.to_json()},
    }
    if drift is not None:
        d_s = summarize([r["driftrec"] for r in runs])
        ratio_s = summarize([r["ratio"] for r in runs])
        ctx.shared["driftrec_eps"] = d_s.median
        out.update(
            driftrec_events_per_s=d_s.median,
            ratio=ratio_s.median,
            driftrec_peak_rss_bytes=max(r["driftrec_rss"] for r in runs),
        )
        out["spread"].update(driftrec=d_s.to_json(), ratio=ratio_s.to_json())
    return {"throughput": out}


def _phases(ctx: Context, saturation_key: str) -> list[tuple[str, float]]:
    phases = [(f"{r:g}", r) for r in ctx.config.latency_rates]
    if saturation_key in ctx.shared:
        phases.append(("saturation", float(ctx.shared[saturation_key])))
    return phases


def latency(ctx: Context) -> dict[str, Any]:
    """Event ts -> output published, at fixed offered rates and at the measured saturation rate."""
    cfg, b = ctx.config, ctx.broker()
    make = pipeline.event_maker(_events(ctx))
    out: dict[str, Any] = {"latency_timing": "event ts (set at send) -> output CreateTime"}
    drift = _driftrec(ctx)
    if drift is not None:
        out["latency_ms"] = pipeline.latency(
            drift,
            b.bootstrap,
            ctx.scratch,
            make,
            phases=_phases(ctx, "driftrec_eps"),
            seconds=cfg.latency_seconds,
            partitions=cfg.partitions,
            outputs_per_event=1.0,
            say=ctx.say,
        )
    out["latency_ms_bare"] = pipeline.latency(
        _bare(ctx),
        b.bootstrap,
        ctx.scratch,
        make,
        phases=_phases(ctx, "bare_eps"),
        seconds=cfg.latency_seconds,
        partitions=cfg.partitions,
        outputs_per_event=1.0,
        say=ctx.say,
    )
    return out


def batching(ctx: Context) -> dict[str, Any]:
    """driftrec throughput at batch size 1 against the default, and a sweep of batch sizes."""
    cfg, b = ctx.config, ctx.broker()
    default = ctx.settings.batch_max
    sizes = sorted({*cfg.batch_sweep, 1, default})
    events = _events(ctx)
    if _driftrec(ctx) is None:
        raise SectionSkipped(ctx.report["skipped"]["driftrec"])
    sweep: dict[str, list[float]] = {str(s): [] for s in sizes}
    for i in range(cfg.repeats):
        for size in sizes:
            target = driftrec_target(cfg, ctx.settings, batch_max=size)
            r = pipeline.throughput(
                target,
                b.bootstrap,
                ctx.scratch,
                events,
                partitions=cfg.partitions,
                expect_outputs=len(events),
                say=ctx.say,
            )
            sweep[str(size)].append(r.events_per_s)
            ctx.say(f"batching run {i + 1}: batch {size}: {r.events_per_s:,.0f} events/s")
    med = {k: summarize(v).median for k, v in sweep.items()}
    return {
        "batching_ratio": med[str(default)] / med["1"],
        "batching": {"default": default, "events_per_s": med, "runs": sweep},
    }


def scale_out(ctx: Context) -> dict[str, Any]:
    """Two workers against one in the same group on a 4-partition topic (both targets)."""
    cfg, b = ctx.config, ctx.broker()
    events = _events(ctx)
    parts = 4
    targets: list[Target] = [t for t in (_driftrec(ctx), _bare(ctx)) if t is not None]
    out: dict[str, Any] = {"partitions": parts, "cores": ctx.report["machine"]["cores"]}
    for target in targets:
        one: list[float] = []
        two: list[float] = []
        dups = 0
        for _ in range(cfg.repeats):
            for n, acc in ((1, one), (2, two)):
                r = pipeline.scale_out(
                    target,
                    b.bootstrap,
                    ctx.scratch,
                    events,
                    workers=n,
                    partitions=parts,
                    expect_outputs=len(events),
                    say=ctx.say,
                )
                acc.append(r.events_per_s)
                dups += int(r.extra.get("duplicates", 0))
        s1, s2 = summarize(one), summarize(two)
        out[target.name] = {
            "one_worker_events_per_s": s1.median,
            "two_workers_events_per_s": s2.median,
            "ratio": s2.median / s1.median,
            "duplicates": dups,
        }
        ctx.say(
            f"scale-out {target.name}: 1 worker {s1.median:,.0f}/s, 2 workers {s2.median:,.0f}/s"
        )
    return {"scale_out": out}
