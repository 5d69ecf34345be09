"""Timers: embed catalog changes while no events flow; refresh lag and profile gauges."""

from __future__ import annotations

import logging
from typing import Any

from streams.faustcompat.offsets import committed_offset
from streams.worker.app import app, metrics, profiles, runtime, settings

log = logging.getLogger(__name__)


@app.timer(interval=1.0)  # type: ignore[untyped-decorator]  # Faust's decorator is untyped
async def sync_catalog() -> None:
    """Embed queued catalog changes even when no events arrive to trigger a model job."""
    if runtime.engine is not None and runtime.has_pending():
        await runtime.run(lambda engine: None)


@app.timer(interval=settings.lag_interval_s)  # type: ignore[untyped-decorator]
async def refresh_gauges() -> None:
    """Consumer lag per assigned events partition, and profiles held."""
    consumer: Any = app.consumer
    for tp in consumer.assignment():
        if tp.topic != settings.events_topic:
            continue
        end = consumer.highwater(tp)
        committed = committed_offset(consumer, tp)
        position = committed if committed is not None else await consumer.position(tp)
        if end is not None and position is not None:
            metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                max(0, end - position)
            )
    try:
        metrics.profiles.set(len(profiles))
    except Exception as exc:  # a table mid-rebalance can refuse to be counted
        log.debug("profiles gauge skipped: %s", exc)
