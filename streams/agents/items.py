"""The items agent: the compacted catalog topic -> validated records in the global catalog table."""

from __future__ import annotations

import logging
from typing import Any

from encoders.records import RecordError
from streams.app import app, catalog, items_dlq, items_topic, metrics, runtime, settings
from streams.codec import dead_letter, decode_item

log = logging.getLogger(__name__)


@app.agent(items_topic, name="items")
async def items(stream: Any) -> None:
    """Validate each item; write it to the catalog table (every worker) and queue its embedding.

    A null value (tombstone) deletes the item; a bad one goes to the items DLQ with its reason.
    """
    async for event in stream.events():
        msg = event.message
        key = msg.key
        if key is not None and event.value is None:
            item_id = key.decode("utf-8", errors="replace")
            if key in catalog:
                del catalog[key]
            runtime.catalog_changed([(item_id, None)])
            continue
        try:
            item = decode_item(event.value, key, max_bytes=settings.max_message_bytes)
        except RecordError as exc:
            record = dead_letter(
                reason=exc.reason,
                error=str(exc),
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                key=key,
                value=event.value,
            )
            await items_dlq.send(key=key or b"", value=record)
            metrics.dead_letters.labels(topic=msg.topic, reason=exc.reason).inc()
            continue
        catalog[item.item_id.encode()] = event.value
        runtime.catalog_changed([(item.item_id, item)])
