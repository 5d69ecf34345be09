"""The items agent: the compacted catalog topic -> validated records in the global catalog table."""

from __future__ import annotations

import logging
from typing import Any

from streams.faustcompat.holes import BrokerRange, HoleFiller
from streams.faustcompat.offsets import start_offset
from streams.messages.codec import dead_letter, decode_item
from streams.messages.records import RecordError
from streams.worker.app import app, catalog, items_dlq, items_topic, metrics, runtime, settings

log = logging.getLogger(__name__)

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
        for offset, key, value in await holes.before(msg.tp, msg.offset):
            await _apply(key, value, msg.topic, msg.partition, offset)
        await _apply(msg.key, event.value, msg.topic, msg.partition, msg.offset)


async def _apply(
    key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int
) -> None:
    if key is not None and value is None:
        item_id = key.decode("utf-8", errors="replace")
        if key in catalog:
            del catalog[key]
        runtime.catalog_changed([(item_id, None)])
        return
    try:
        item = decode_item(value, key, max_bytes=settings.max_message_bytes)
    except RecordError as exc:
        record = dead_letter(
            reason=exc.reason,
            error=str(exc),
            topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            value=value,
        )
        await items_dlq.send(key=key or b"", value=record)
        metrics.dead_letters.labels(topic=topic, reason=exc.reason).inc()
        return
    catalog[item.item_id.encode()] = value
    runtime.catalog_changed([(item.item_id, item)])
