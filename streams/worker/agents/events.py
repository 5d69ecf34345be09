"""The behaviour agent: micro-batches of events -> profiles table and recommendation lists."""

from __future__ import annotations

from typing import Any

from streams.faustcompat.offsets import start_offset
from streams.faustcompat.ordering import InOrderGate, held_counter
from streams.worker.agents.batch import EventsBatch
from streams.worker.app import app, events_topic, metrics, profiles, runtime, settings
from streams.worker.control import ControlledBatch, forget_counter


async def _send(topic: str, key: bytes, value: bytes | None) -> Any:
    return await app.producer.send(topic, key, value, partition=None, timestamp=None, headers=None)


handle_batch = EventsBatch(settings, runtime, metrics, profiles, _send)
# Control records (driftrec forget) ride on the events topic, ordered with the user's events.
handle_events = ControlledBatch(
    settings, handle_batch, profiles, _send, forget_counter(metrics.registry)
)


# Faust can deliver a partition out of order around rebalances: never process past a gap.
gate = InOrderGate(
    seek=lambda tp, offset: app.consumer.seek(tp, offset),
    generation=lambda: app.consumer_generation_id,
    start_offset=lambda tp: start_offset(app.consumer, tp),
    on_gap=held_counter(metrics.registry),
)


@app.agent(events_topic, name="behaviour")
async def behaviour(stream: Any) -> None:
    """Consume behaviour events in micro-batches (``take_events``: per-record event context)."""
    await runtime.ready()
    async for batch in stream.take_events(settings.batch_max, within=settings.batch_wait_s):
        await handle_events(await gate(batch))
