"""Saturation throughput of driftrec against three yardsticks, in one run, rounds alternating.

Each round measures, one after the other on the same broker:

1. the broker's own limit: Kafka's ProducerPerformance writing records of the bench events' mean
   size to a fresh topic with the bench's partitions, then ConsumerPerformance reading them back
   (:mod:`bench.kafkaperf`);
2. the raw aiokafka pass-through (:mod:`bench.rawpassthrough`): getmany, decode, gathered sends;
3. the bare Faust pass-through (:mod:`bench.passthrough`): take_events with driftrec's batch size
   and wait, gathered sends;
4. driftrec's worker.

2-4 are worker sessions started once (see :mod:`bench.pipelinebench`) and fed one burst each per
round, so load from anything else on the machine falls on every side of every ratio. Each ratio
is computed per round and reported with its runs (min, median, max).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from bench import kafkaperf
from bench.errors import BenchError, SectionSkipped
from bench.kafkaio import create_topics
from bench.verdicts import ratio_runs, spread

if TYPE_CHECKING:
    from bench.suite import Context

#: (numerator, denominator) of every ratio the section reports, per round.
RATIOS = (
    ("driftrec", "bare"),
    ("driftrec", "raw"),
    ("bare", "raw"),
    ("raw", "broker_consumer"),
    ("driftrec", "broker_consumer"),
)


def _broker_round(ctx: Context, classpath: str, size: int) -> dict[str, Any]:
    """ProducerPerformance then ConsumerPerformance on a fresh topic; both tools' figures."""
    cfg = ctx.config
    bootstrap = ctx.broker().bootstrap
    topic = f"bench-perf-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [topic], cfg.partitions)
    prod = kafkaperf.producer_perf(classpath, bootstrap, topic, cfg.broker_records, size)
    cons = kafkaperf.consumer_perf(classpath, bootstrap, topic, cfg.broker_records)
    return {"producer": prod.to_json(), "consumer": cons.to_json()}


def throughput(ctx: Context) -> dict[str, Any]:
    """One driftrec worker, the two pass-throughs and the broker's tools, round by round."""
    from bench.pipelinebench import _main, event_bytes, stream_maker

    cfg = ctx.config
    sessions = _main(ctx)
    make = stream_maker(ctx)
    size = round(event_bytes(ctx))
    classpath: str | None = None
    tools_skipped: str | None = None
    try:
        classpath = kafkaperf.tools_classpath(ctx.settings.kafka_dir)
    except SectionSkipped as exc:
        tools_skipped = str(exc)
        ctx.report["skipped"]["broker_tools"] = tools_skipped
    runs: list[dict[str, float]] = []
    tools: list[dict[str, Any]] = []
    for i in range(cfg.repeats):
        run: dict[str, float] = {}
        if classpath is not None:
            try:
                tool = _broker_round(ctx, classpath, size)
            except BenchError as exc:  # recorded; the Python yardsticks still run
                ctx.report["errors"][f"broker_tools_round_{i + 1}"] = str(exc)
            else:
                tools.append(tool)
                run["broker_producer"] = tool["producer"]["records_per_s"]
                run["broker_consumer"] = tool["consumer"]["records_per_s"]
        for name, s in sessions.items():
            run[name] = s.burst(make, cfg.throughput_events).events_per_s
        runs.append(run)
        ctx.say(
            f"throughput {i + 1}/{cfg.repeats}: "
            + ", ".join(f"{k} {v:,.0f}" for k, v in run.items())
        )
    out: dict[str, Any] = {
        "events_per_run": cfg.throughput_events,
        "event_bytes_mean": size,
        "broker_records_per_run": cfg.broker_records,
        "bare_out_bytes": ctx.shared["bare_bytes"],
        "batch_max": ctx.settings.batch_max,
        "batch_wait_s": ctx.settings.batch_wait_s,
        "batch_mode": ctx.settings.batch_mode,
        "timing": "workers: burst after the worker is ready; distinct events / (last - first "
        "output CreateTime). Broker: ProducerPerformance records/s, ConsumerPerformance fetch "
        "records/s (group join excluded)",
        "runs": runs,
        "broker_tools": tools,
        "startup_s": {name: round(s.startup_s, 1) for name, s in sessions.items()},
        "spread": {},
        "ratios": {},
    }
    for name in dict.fromkeys(k for r in runs for k in r):
        values = [r[name] for r in runs if name in r]
        out["spread"][name] = spread(values)
        out[f"{name}_events_per_s"] = out["spread"][name]["median"]
        ctx.shared[f"{name}_eps"] = out["spread"][name]["median"]
    for num, den in RATIOS:
        values = ratio_runs(runs, num, den)
        if values:
            out["ratios"][f"{num}/{den}"] = spread(values)
    if tools:
        out["broker_mb_per_s"] = {
            "producer": spread([t["producer"]["mb_per_s"] for t in tools]),
            "consumer": spread([t["consumer"]["mb_per_s"] for t in tools]),
        }
    # Headline keys kept from the earlier report format (schema 1 readers).
    main_ratio = out["ratios"].get("driftrec/bare")
    out["ratio"] = main_ratio["median"] if main_ratio else None
    if "driftrec" in sessions:
        out["driftrec_peak_rss_bytes"] = sessions["driftrec"].peak_rss()
    return {"throughput": out}
