"""Scale-out: two and three driftrec workers in one group against one, on the same topic layout,
and the capacity arithmetic that follows from the measured figures.

The one-worker session is the suite's main driftrec session; each larger group is started in turn
and its bursts alternate with the one worker's (same run, same machine load on both sides). Every
ratio is per round, reported with its runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from bench.errors import SectionSkipped
from bench.verdicts import spread

if TYPE_CHECKING:
    from bench.suite import Context

#: Worker counts compared with one worker.
GROUP_SIZES = (2, 3)
#: The capacity question of issue 15: users and a sustained event rate to serve.
PLAN_USERS = 10_000_000
PLAN_EVENTS_PER_S = 5_000.0


def scale_out(ctx: Context) -> dict[str, Any]:
    """Events/s of 2 and 3 driftrec workers in one group against 1, bursts alternating."""
    from bench.pipelinebench import WARMUP_EVENTS, _driftrec, _main, new_session, stream_maker

    cfg = ctx.config
    one = _main(ctx).get("driftrec")
    if one is None:
        raise SectionSkipped(ctx.report["skipped"].get("driftrec", "driftrec unavailable"))
    make = stream_maker(ctx)
    n = cfg.throughput_events
    out: dict[str, Any] = {"partitions": cfg.partitions, "cores": ctx.report["machine"]["cores"]}
    one_runs: list[float] = []
    for workers in GROUP_SIZES:
        if workers > cfg.partitions:
            continue
        target = _driftrec(ctx)
        assert target is not None  # the main session exists, so the target does
        with new_session(ctx, target, workers) as group:
            group.burst(make, WARMUP_EVENTS)
            pairs, dups = [], 0
            for _ in range(cfg.repeats):
                many = group.burst(make, n)
                single = one.burst(make, n)
                dups += int(many.extra["duplicates"])
                pairs.append((single.events_per_s, many.events_per_s))
            rss = group.peak_rss()
        one_runs += [a for a, _ in pairs]
        out[str(workers)] = {
            "events_per_s": spread([b for _, b in pairs]),
            "one_worker_events_per_s": spread([a for a, _ in pairs]),
            "ratio_vs_one": spread([b / a for a, b in pairs]),
            "duplicates": dups,
            "peak_rss_bytes_one_worker_of_group": rss,
        }
        ctx.say(
            f"scale-out: {workers} workers {out[str(workers)]['events_per_s']['median']:,.0f}/s "
            f"vs 1 worker {out[str(workers)]['one_worker_events_per_s']['median']:,.0f}/s"
        )
    if one_runs:
        out["1"] = {"events_per_s": spread(one_runs)}
    return {"scale_out": out}


def capacity(report: dict[str, Any]) -> dict[str, Any] | None:
    """Users and events/s per worker, RocksDB bytes per user, and workers/partitions for
    :data:`PLAN_USERS` users at :data:`PLAN_EVENTS_PER_S`, from this report's measured figures.

    The rate per worker is the one-worker median of the scale-out section (the throughput
    section's when scale-out did not run) and, as a conservative figure, the slowest run.
    A partition is consumed by one worker of a group, so partitions >= workers. None when the
    report lacks a worker rate.
    """
    so = report.get("scale_out") or {}
    tp = report.get("throughput") or {}
    per_worker = (so.get("1") or {}).get("events_per_s") or (tp.get("spread") or {}).get("driftrec")
    if not per_worker:
        return None
    storage = report.get("storage") or {}
    bytes_per_user = None
    if storage:
        largest = max(storage, key=int)
        bytes_per_user = storage[largest].get("bytes_per_profile")
    out: dict[str, Any] = {
        "plan_users": PLAN_USERS,
        "plan_events_per_s": PLAN_EVENTS_PER_S,
        "events_per_s_per_worker": per_worker["median"],
        "events_per_s_per_worker_slowest_run": per_worker["min"],
        "rocksdb_bytes_per_user": bytes_per_user,
        "source": "scale_out 1-worker runs" if so.get("1") else "throughput driftrec runs",
    }
    for tag, rate in (("median", per_worker["median"]), ("slowest_run", per_worker["min"])):
        workers = math.ceil(PLAN_EVENTS_PER_S / rate)
        out[f"workers_needed_{tag}"] = workers
        out[f"partitions_needed_{tag}"] = workers
        out[f"users_per_worker_{tag}"] = math.ceil(PLAN_USERS / workers)
        if bytes_per_user is not None:
            out[f"rocksdb_bytes_per_worker_{tag}"] = math.ceil(PLAN_USERS / workers) * float(
                bytes_per_user
            )
    if bytes_per_user is not None:
        out["rocksdb_bytes_total"] = PLAN_USERS * float(bytes_per_user)
    scaling = {
        k: v["ratio_vs_one"]["median"]
        for k, v in so.items()
        if isinstance(v, dict) and "ratio_vs_one" in v
    }
    if scaling:
        out["measured_scaling_vs_one"] = scaling
    return out
