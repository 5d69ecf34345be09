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
from bench.targets import Passthrough, RawPassthrough, Target, driftrec_target

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
        ctx.shared["event_bytes"] = sum(len(v) for _, v in template) / len(template)
    maker: EventMaker = ctx.shared["maker"]
    return maker


def text_share(ctx: Context) -> float:
    """Share of the suite's events that carry free text (the only per-event encoder work)."""
    stream_maker(ctx)
    return float(ctx.shared["text_share"])


def event_bytes(ctx: Context) -> float:
    """Mean size of the suite's event messages (values), the record size of the broker tools."""
    stream_maker(ctx)
    return float(ctx.shared["event_bytes"])


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


def new_session(ctx: Context, target: Target, workers: int = 1) -> Session:
    """``workers`` workers of ``target`` on the suite's broker, scratch folder and partitions."""
    return Session(
        target,
        ctx.broker().bootstrap,
        ctx.scratch,
        partitions=ctx.config.partitions,
        say=ctx.say,
        workers=workers,
    )


def _open(ctx: Context, target: Target, workers: int = 1, warm: bool = True) -> Session:
    """A session that lives until the suite ends, warmed up with one discarded burst."""
    session = new_session(ctx, target, workers)
    ctx.stack.callback(session.close)
    if warm:
        r = session.burst(stream_maker(ctx), WARMUP_EVENTS)
        ctx.shared.setdefault("out_bytes", {})[target.name] = r.out_bytes_mean
    return session


def _main(ctx: Context) -> dict[str, Session]:
    """One session (1 worker) each of driftrec, the bare Faust and the raw aiokafka pass-through,
    shared by the sections that need them.

    driftrec starts first so that the pass-throughs' output size can be set to driftrec's real
    mean list size; both pass-throughs batch with driftrec's batch size and wait.
    """
    if "main" not in ctx.shared:
        sessions: dict[str, Session] = {}
        drift = _driftrec(ctx)
        if drift is not None:
            sessions["driftrec"] = _open(ctx, drift)
        size = int(ctx.shared.get("out_bytes", {}).get("driftrec", sample_list_bytes()))
        ctx.shared["bare_bytes"] = size
        batch = (ctx.settings.batch_max, ctx.settings.batch_wait_s)
        sessions["raw"] = _open(ctx, RawPassthrough(size, *batch))
        sessions["bare"] = _open(ctx, Passthrough(size, *batch))
        ctx.shared["main"] = sessions
    main: dict[str, Session] = ctx.shared["main"]
    return main


#: The fixed rate of the low-rate latency target (p99 under 50 ms), measured every round.
LOW_RATE = 200.0
#: Sessions whose latency is measured (the Faust pass-through is the latency yardstick).
LATENCY_SESSIONS = ("driftrec", "bare")


def _median_phase(rounds: list[dict[str, float]]) -> dict[str, Any]:
    """Key-wise median of one phase's rounds, with the p99 of every round kept."""
    keys = set(rounds[0]).intersection(*rounds[1:])
    out: dict[str, Any] = {k: summarize([r[k] for r in rounds]).median for k in sorted(keys)}
    out["p99_runs"] = [r["p99"] for r in rounds]
    return out


def latency(ctx: Context) -> dict[str, Any]:
    """Event ts -> output published, driftrec and the bare Faust pass-through.

    Every round offers, to each side in turn, 200 events/s and half of driftrec's measured
    saturation rate (the rates of the latency targets), so their p99s pair up round by round.
    The other fixed rates and each side's own saturation rate are offered once, after the rounds.
    """
    cfg = ctx.config
    sessions = {k: s for k, s in _main(ctx).items() if k in LATENCY_SESSIONS}
    make = stream_maker(ctx)
    sat_driftrec = ctx.shared.get("driftrec_eps")
    paired = [(f"{LOW_RATE:g}", LOW_RATE)]
    if sat_driftrec is not None:
        paired.append(("half_saturation", float(sat_driftrec) / 2))
    rounds: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in sessions}
    for r in range(cfg.repeats):
        for name, s in sessions.items():
            res = s.latency(make, paired, cfg.latency_seconds, warmup_s=2.0 if r == 0 else 0.0)
            rounds[name].append(res)
        ctx.say(
            f"latency round {r + 1}/{cfg.repeats}: "
            + "; ".join(
                f"{name} p99 " + ", ".join(f"{k} {v['p99']:,.0f} ms" for k, v in rs[-1].items())
                for name, rs in rounds.items()
            )
        )
    out: dict[str, Any] = {"latency_timing": "event ts (set at send) -> output CreateTime"}
    for name, s in sessions.items():
        phases = [(f"{v:g}", v) for v in cfg.latency_rates if v != LOW_RATE]
        sat = ctx.shared.get(f"{name}_eps")
        if sat is not None:
            if cfg.quick:
                # Far above saturation the figure is the backlog's age, not the pipeline's
                # latency, and draining it takes minutes: quick mode leaves those rates out.
                over = [label for label, v in phases if v > QUICK_MAX_OVERLOAD * sat]
                if over:
                    out.setdefault("latency_skipped", {})[name] = (
                        f"rates {', '.join(over)} events/s exceed {QUICK_MAX_OVERLOAD}x the "
                        f"measured saturation ({sat:,.0f}/s); full mode runs them"
                    )
                phases = [(label, v) for label, v in phases if label not in over]
            phases.append(("saturation", float(sat)))
        once = s.latency(make, phases, cfg.latency_seconds, warmup_s=0.0) if phases else {}
        merged: dict[str, Any] = {
            label: _median_phase([rd[label] for rd in rounds[name]]) for label, _ in paired
        }
        key = "latency_ms" if name == "driftrec" else f"latency_ms_{name}"
        out[key] = merged | once
    if "driftrec" in rounds and "bare" in rounds and len(paired) > 1:
        ratios = [
            d["half_saturation"]["p99"] / b["half_saturation"]["p99"]
            for d, b in zip(rounds["driftrec"], rounds["bare"], strict=True)
            if b["half_saturation"]["p99"] > 0
        ]
        out["latency_half_saturation"] = {
            "offered_per_s": paired[1][1],
            "p99_ratio_runs": ratios,
            "note": "driftrec p99 / bare Faust pass-through p99, same offered rate, per round",
        }
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
        with new_session(ctx, target) as other:
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
