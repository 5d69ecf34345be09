"""Suite sections that run workers on the broker: throughput, latency, batching, scale-out and
the worker's own storage and memory at many users.

driftrec and the bare pass-through run side by side: both sessions stay up and their bursts
alternate (ABAB), so load from anything else on the machine falls on both sides of every ratio.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import SectionSkipped
from bench.events import encode_event, make_events, make_items
from bench.pipeline import EventMaker, Session, event_maker
from bench.stats import summarize
from bench.targets import Passthrough, Target, driftrec_target

if TYPE_CHECKING:
    from bench.suite import Context

#: Items per list in the size estimate used before driftrec's real output size is known.
SAMPLE_K = 10
#: Quick mode offers no rate above this multiple of the measured saturation throughput.
QUICK_MAX_OVERLOAD = 1.5
#: py-spy sampling rate of the profile section (samples per second per thread).
PROFILE_HZ = 100
#: Events per burst in the batching sweep.
BATCH_SWEEP_EVENTS = 2_000
#: Events of the warm-up burst each main session gets before any measurement (discarded).
WARMUP_EVENTS = 200


def sample_list_bytes(k: int = SAMPLE_K) -> int:
    """Bytes of a recommendations message (docs/contracts.md) with ``k`` items."""
    msg = {
        "user_id": "u0000123",
        "items": [{"item_id": f"i{i:07d}", "score": 0.123457, "because": None} for i in range(k)],
        "trigger": "drift",
        "drift": 0.234568,
        "model_version": "m-0123456789ab",
        "event_id": "e123456",
        "event_ts": 1_800_000_000.123456,
        "published_ts": 1_800_000_000.234567,
    }
    return len(json.dumps(msg, separators=(",", ":")).encode())


def stream_maker(ctx: Context) -> EventMaker:
    """The suite's event stream (users drifting between categories), ids and ts set at send."""
    if "maker" not in ctx.shared:
        cfg = ctx.config
        template = [
            encode_event(e)
            for e in make_events(
                max(cfg.throughput_events, 1000),
                cfg.users,
                cfg.items,
                seed=cfg.seed,
                start_ts=time.time(),
            )
        ]
        ctx.shared["maker"] = event_maker(template)
        ctx.shared["text_share"] = sum(b'"text"' in v for _, v in template) / len(template)
    maker: EventMaker = ctx.shared["maker"]
    return maker


def text_share(ctx: Context) -> float:
    """Share of the suite's events that carry free text (the only per-event encoder work)."""
    stream_maker(ctx)
    return float(ctx.shared["text_share"])


def _driftrec(ctx: Context, **overrides: Any) -> Target | None:
    """The driftrec target, or None with the reason recorded when it cannot run here.

    Its workers share the user's text-vector cache (``<home>/cache``, content-keyed), so the
    catalog is embedded once per machine, not once per run.
    """
    cfg = ctx.config
    if "items" not in ctx.shared:
        ctx.shared["items"] = make_items(cfg.items, seed=cfg.seed)
    try:
        return driftrec_target(ctx.settings.home, ctx.shared["items"], **overrides)
    except SectionSkipped as exc:
        ctx.report["skipped"]["driftrec"] = str(exc)
        return None


def _open(ctx: Context, target: Target, workers: int = 1, warm: bool = True) -> Session:
    """A session that lives until the suite ends, warmed up with one discarded burst."""
    b = ctx.broker()
    session = Session(
        target,
        b.bootstrap,
        ctx.scratch,
        partitions=ctx.config.partitions,
        say=ctx.say,
        workers=workers,
    )
    ctx.stack.callback(session.close)
    if warm:
        r = session.burst(stream_maker(ctx), WARMUP_EVENTS)
        ctx.shared.setdefault("out_bytes", {})[target.name] = r.out_bytes_mean
    return session


def _main(ctx: Context) -> dict[str, Session]:
    """One driftrec and one bare session (1 worker each), shared by the sections that need them.

    driftrec starts first so that the bare agent's output size can be set to driftrec's real
    mean list size.
    """
    if "main" not in ctx.shared:
        sessions: dict[str, Session] = {}
        drift = _driftrec(ctx)
        if drift is not None:
            sessions["driftrec"] = _open(ctx, drift)
        size = ctx.shared.get("out_bytes", {}).get("driftrec", sample_list_bytes())
        ctx.shared["bare_bytes"] = int(size)
        sessions["bare"] = _open(ctx, Passthrough(int(size)))
        ctx.shared["main"] = sessions
    main: dict[str, Session] = ctx.shared["main"]
    return main


def throughput(ctx: Context) -> dict[str, Any]:
    """Saturation throughput of one driftrec worker and of the bare pass-through, ABAB."""
    cfg = ctx.config
    sessions = _main(ctx)
    make = stream_maker(ctx)
    runs: list[dict[str, float]] = []
    for i in range(cfg.repeats):
        run = {
            name: s.burst(make, cfg.throughput_events).events_per_s for name, s in sessions.items()
        }
        if "driftrec" in run:
            run["ratio"] = run["driftrec"] / run["bare"]
        runs.append(run)
        ctx.say(
            f"throughput {i + 1}/{cfg.repeats}: "
            + ", ".join(f"{k} {v:,.3g}" for k, v in run.items())
        )
    out: dict[str, Any] = {
        "driftrec_events_per_s": None,
        "ratio": None,
        "events_per_run": cfg.throughput_events,
        "bare_out_bytes": ctx.shared["bare_bytes"],
        "timing": "burst after the worker is ready; distinct events / (last - first output "
        "CreateTime)",
        "runs": runs,
        "startup_s": {name: round(s.startup_s, 1) for name, s in sessions.items()},
    }
    for name in sessions:
        summary = summarize([r[name] for r in runs])
        out[f"{name}_events_per_s"] = summary.median
        out.setdefault("spread", {})[name] = summary.to_json()
        ctx.shared[f"{name}_eps"] = summary.median
    if "driftrec" in sessions:
        ratio = summarize([r["ratio"] for r in runs])
        out["ratio"] = ratio.median
        out["spread"]["ratio"] = ratio.to_json()
        out["driftrec_peak_rss_bytes"] = sessions["driftrec"].peak_rss()
    return {"throughput": out}


def latency(ctx: Context) -> dict[str, Any]:
    """Event ts -> output published, at fixed offered rates and at the measured saturation rate."""
    cfg = ctx.config
    sessions = _main(ctx)
    out: dict[str, Any] = {"latency_timing": "event ts (set at send) -> output CreateTime"}
    for name, s in sessions.items():
        phases = [(f"{r:g}", r) for r in cfg.latency_rates]
        sat = ctx.shared.get(f"{name}_eps")
        if sat is not None:
            if cfg.quick:
                # Far above saturation the figure is the backlog's age, not the pipeline's
                # latency, and draining it takes minutes: quick mode leaves those rates out.
                over = [label for label, r in phases if r > QUICK_MAX_OVERLOAD * sat]
                if over:
                    out.setdefault("latency_skipped", {})[name] = (
                        f"rates {', '.join(over)} events/s exceed {QUICK_MAX_OVERLOAD}x the "
                        f"measured saturation ({sat:,.0f}/s); full mode runs them"
                    )
                phases = [(label, r) for label, r in phases if label not in over]
            phases.append(("saturation", float(sat)))
        key = "latency_ms" if name == "driftrec" else f"latency_ms_{name}"
        out[key] = s.latency(stream_maker(ctx), phases, cfg.latency_seconds)
        ctx.say(
            f"{name} latency p99: "
            + ", ".join(f"{k}: {v['p99']:,.0f} ms" for k, v in out[key].items())
        )
    return out


def batching(ctx: Context) -> dict[str, Any]:
    """driftrec throughput at each batch size against the default batch, bursts alternating."""
    cfg = ctx.config
    default = ctx.settings.batch_max
    main = _main(ctx).get("driftrec")
    if main is None:
        raise SectionSkipped(ctx.report["skipped"].get("driftrec", "driftrec unavailable"))
    make = stream_maker(ctx)
    # Small batches are slow (batch 1: tens of events/s); bursts are capped to keep the sweep short.
    n = min(cfg.throughput_events, BATCH_SWEEP_EVENTS)
    eps: dict[str, float] = {}
    ratios: dict[str, float] = {}
    default_runs: list[float] = []
    for size in sorted({*cfg.batch_sweep, 1} - {default}):
        target = _driftrec(ctx, batch_max=size)
        assert target is not None  # the main session exists, so the target does
        with Session(
            target,
            ctx.broker().bootstrap,
            ctx.scratch,
            partitions=cfg.partitions,
            say=ctx.say,
        ) as other:
            other.burst(make, WARMUP_EVENTS)
            pairs = []
            for _ in range(cfg.repeats):
                a = other.burst(make, n).events_per_s
                d = main.burst(make, n).events_per_s
                default_runs.append(d)
                pairs.append((a, d))
        eps[str(size)] = summarize([a for a, _ in pairs]).median
        ratios[str(size)] = summarize([d / a for a, d in pairs]).median
        ctx.say(
            f"batch {size}: {eps[str(size)]:,.0f} events/s; default is x{ratios[str(size)]:.2f}"
        )
    eps[str(default)] = summarize(default_runs).median
    return {
        "batching_ratio": ratios["1"],
        "batching": {
            "default": default,
            "events_per_s": eps,
            "default_vs_size": ratios,
            "note": "each size's bursts alternate with the default worker's (same run)",
        },
    }


def scale_out(ctx: Context) -> dict[str, Any]:
    """Two workers in one group against one, on a 4-partition topic, for both targets."""
    cfg = ctx.config
    if cfg.partitions != 4:
        raise SectionSkipped(f"scale-out is defined on 4 partitions, config has {cfg.partitions}")
    main = _main(ctx)
    make = stream_maker(ctx)
    out: dict[str, Any] = {"partitions": 4, "cores": ctx.report["machine"]["cores"]}
    for name, one in main.items():
        target = _driftrec(ctx) if name == "driftrec" else Passthrough(ctx.shared["bare_bytes"])
        assert target is not None
        with Session(
            target, ctx.broker().bootstrap, ctx.scratch, partitions=4, say=ctx.say, workers=2
        ) as two:
            two.burst(make, WARMUP_EVENTS)
            pairs, dups = [], 0
            for _ in range(cfg.repeats):
                r2 = two.burst(make, cfg.throughput_events)
                r1 = one.burst(make, cfg.throughput_events)
                dups += int(r2.extra["duplicates"])
                pairs.append((r1.events_per_s, r2.events_per_s))
        s1 = summarize([a for a, _ in pairs])
        s2 = summarize([b for _, b in pairs])
        out[name] = {
            "one_worker_events_per_s": s1.median,
            "two_workers_events_per_s": s2.median,
            "ratio": summarize([b / a for a, b in pairs]).median,
            "duplicates": dups,
        }
        ctx.say(f"scale-out {name}: 1 worker {s1.median:,.0f}/s, 2 workers {s2.median:,.0f}/s")
    return {"scale_out": out}


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class _NewUsers:
    """Events of never-seen users ``s<first + i>``, one each (an EventMaker)."""

    def __init__(self, first: int, items: int) -> None:
        self.first = first
        self.items = items

    def __call__(self, prefix: str, i: int, now: float) -> tuple[bytes, bytes]:
        n = self.first + i
        user = f"s{n:09d}"
        body = {
            "event_id": f"{prefix}{i}",
            "user_id": user,
            "ts": now,
            "action": "view",
            "item_id": f"i{n % self.items:07d}",
        }
        return user.encode(), json.dumps(body, separators=(",", ":")).encode()


def worker_storage(ctx: Context) -> dict[str, Any]:
    """The worker's RSS and RocksDB folder after it holds profiles of 10k and 100k users.

    Events for new users (one each) are produced in bursts into the main driftrec session until
    the worker has seen each target number of users; then RSS is sampled and the worker's
    RocksDB folder measured as it is (it also holds the catalog table, write-ahead logs and files
    not compacted yet, so its growth is not a per-profile size: the ``storage`` section measures
    that after a compaction).
    """
    main = _main(ctx).get("driftrec")
    if main is None:
        raise SectionSkipped(ctx.report["skipped"].get("driftrec", "driftrec unavailable"))
    items = ctx.config.items
    out: dict[str, Any] = {}
    seen = 0
    data_dir = main.run.workdir / "worker-0"

    for users in ctx.config.storage_users:
        n = users - seen
        for start in range(0, n, 10_000):
            main.burst(_NewUsers(seen + start, items), min(10_000, n - start))
        seen = users
        time.sleep(2)  # let the table flush
        rss = max(w.sample_rss() or 0 for w in main.workers)
        disk = _dir_bytes(data_dir)
        out[str(users)] = {"worker_rss_bytes": rss, "rocksdb_dir_bytes": disk}
        ctx.say(
            f"worker with {users:,} new users: RSS {rss / 2**20:,.0f} MiB, "
            f"RocksDB folder {disk / 2**20:,.1f} MiB"
        )
    return {"worker_storage": out}


def profile(ctx: Context) -> dict[str, Any]:
    """py-spy samples of each main worker during one burst: where the time goes, per thread."""
    from bench import profiling

    py_spy = ctx.shared.get("py_spy")
    if not py_spy:
        raise SectionSkipped("py-spy not found: pip install py-spy, then --py-spy PATH")
    out: dict[str, Any] = {}
    folder: Path = ctx.shared.get("artifacts") or ctx.scratch
    folder.mkdir(parents=True, exist_ok=True)
    n = ctx.config.throughput_events
    for name, session in _main(ctx).items():
        raw = folder / f"profile-{name}.txt"
        rec = profiling.record(py_spy, session.workers[0].pid, raw, rate_hz=PROFILE_HZ)
        time.sleep(1.0)  # let py-spy attach before the burst
        try:
            r = session.burst(stream_maker(ctx), n)
        finally:
            rec.stop()
        threads = profiling.summarize(raw)
        for t in threads.values():
            # Busy CPU time of the thread per event (the recording spans the burst and ~1 s).
            t["busy_ms_per_event"] = t["samples"] * t["busy_share"] / PROFILE_HZ / n * 1e3
        out[name] = {
            "events_per_s_while_sampled": r.events_per_s,
            "raw": str(raw) if ctx.shared.get("artifacts") else None,
            "threads": threads,
        }
        ctx.say(f"profiled {name}: {raw}")
    return {"profile": out}
