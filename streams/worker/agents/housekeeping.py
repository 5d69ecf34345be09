"""Timers: embed catalog changes while no events flow; refresh lag and profile gauges."""

from __future__ import annotations

import logging
from typing import Any

from streams.faustcompat.offsets import committed_offset
from streams.worker.agents.guard import PROCESSING_ERROR, describe
from streams.worker.factory import Worker

log = logging.getLogger(__name__)


def register(w: Worker) -> dict[str, Any]:
    """Add the catalog sync and gauge timers to ``w.app`` (after the items agent); return them."""
    app, catalog, metrics, profiles, progress, runtime, settings = (
        w.app,
        w.catalog,
        w.metrics,
        w.profiles,
        w.progress,
        w.runtime,
        w.settings,
    )
    dead_letter_item = w.parts["dead_letter_item"]  # the items agent's DLQ writer

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]  # Faust's decorator is untyped
    async def sync_catalog() -> None:
        """Embed queued catalog changes even when no events arrive to trigger a model job; items
        that could not be embedded go to the items DLQ (``processing_error``, offset -1: found after
        the record was applied). Never raises: a timer that raises stops the worker."""
        try:
            if runtime.engine is not None and runtime.has_pending():
                await runtime.run(lambda engine: None)
            for item_id, error in runtime.take_failed_items().items():
                key = item_id.encode()
                value = catalog.get(key)
                await dead_letter_item(
                    key,
                    None if value is None else bytes(value),
                    settings.items_topic,
                    0,
                    -1,
                    PROCESSING_ERROR,
                    error,
                )
        except Exception as exc:
            log.error("catalog sync failed (%s); retrying in a second", describe(exc))

    @app.timer(interval=settings.lag_interval_s)  # type: ignore[untyped-decorator]
    async def refresh_gauges() -> None:
        """Consumer lag per assigned events partition, and profiles held."""
        consumer: Any = app.consumer
        lag = 0
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
                lag += max(0, end - position)
        progress.lag = lag
        try:
            metrics.profiles.set(len(profiles))
        except Exception as exc:  # a table mid-rebalance can refuse to be counted
            log.debug("profiles gauge skipped: %s", exc)

    return {"sync_catalog": sync_catalog, "refresh_gauges": refresh_gauges}
