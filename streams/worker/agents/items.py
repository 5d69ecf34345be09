"""The items agent: the compacted catalog topic -> validated records in the global catalog table."""

from __future__ import annotations

import logging
from typing import Any

from streams.faustcompat.holes import BrokerRange, HoleFiller
from streams.faustcompat.offsets import start_offset
from streams.messages.codec import dead_letter, decode_item
from streams.messages.records import RecordError
from streams.worker.agents.guard import PROCESSING_ERROR, Backoff, describe
from streams.worker.factory import Worker

log = logging.getLogger(__name__)


def register(w: Worker) -> dict[str, Any]:
    """Add the items agent to ``w.app``; return the parts by name (``dead_letter_item`` too)."""
    app, catalog, items_dlq, items_topic, metrics, runtime, settings = (
        w.app,
        w.catalog,
        w.items_dlq,
        w.items_topic,
        w.metrics,
        w.runtime,
        w.settings,
    )

    backoff = Backoff(
        settings.retry_initial_s,
        settings.retry_max_s,
        on_retry=lambda what: metrics.transient_retries.labels(stage=what).inc(),
    )

    # Faust can skip an items record around rebalances: records it did not deliver are read again.
    holes = HoleFiller(
        read_range=BrokerRange(settings.kafka_python_config()),
        generation=lambda: app.consumer_generation_id,
        start_offset=lambda tp: start_offset(app.consumer, tp),
    )

    @app.agent(items_topic, name="items")
    async def items(stream: Any) -> None:
        """Validate each item; write it to the catalog table (every worker) and queue its embedding.

        A null value (tombstone) deletes the item; a bad one goes to the items DLQ with its reason.
        """
        async for event in stream.events():
            msg = event.message
            for offset, key, value in await _skipped_before(msg):
                await _apply(key, value, msg.topic, msg.partition, offset)
            await _apply(msg.key, event.value, msg.topic, msg.partition, msg.offset)

    async def _skipped_before(msg: Any) -> list[tuple[int, bytes | None, bytes | None]]:
        """Records Faust skipped before ``msg``, read from the broker (retried until it answers)."""
        return await backoff.retry(
            lambda: holes.before(msg.tp, msg.offset), "items", retry_if=lambda exc: True
        )

    async def _apply(
        key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int
    ) -> None:
        """Apply one record; a failure other than a transient one dead-letters this record only
        (``processing_error``) and the agent goes on (:mod:`streams.worker.agents.guard`)."""
        try:
            await backoff.retry(lambda: _apply_record(key, value), "items")
        except RecordError as exc:
            await dead_letter_item(key, value, topic, partition, offset, exc.reason, str(exc))
        except Exception as exc:
            log.error("items record %s[%d]@%d failed: %s", topic, partition, offset, describe(exc))
            await dead_letter_item(
                key, value, topic, partition, offset, PROCESSING_ERROR, describe(exc)
            )

    async def _apply_record(key: bytes | None, value: bytes | None) -> None:
        if key is not None and value is None:
            item_id = key.decode("utf-8", errors="replace")
            if key in catalog:
                del catalog[key]
            runtime.catalog_changed([(item_id, None)])
            return
        item = decode_item(value, key, max_bytes=settings.max_message_bytes)
        catalog[item.item_id.encode()] = value
        runtime.catalog_changed([(item.item_id, item)])

    async def dead_letter_item(
        key: bytes | None,
        value: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        reason: str,
        error: str,
    ) -> None:
        """One record to the items DLQ (retried until the broker takes it)."""
        record = dead_letter(
            reason=reason,
            error=error,
            topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            value=value,
        )
        await backoff.retry(
            lambda: items_dlq.send(key=key or b"", value=record), "dead_letter", lambda exc: True
        )
        metrics.dead_letters.labels(topic=topic, reason=reason).inc()

    return {"items": items, "holes": holes, "dead_letter_item": dead_letter_item}
