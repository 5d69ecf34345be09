"""The behaviour agent: micro-batches of events -> profiles table and recommendation lists."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from streams.faustcompat.offsets import start_offset
from streams.faustcompat.ordering import InOrderGate, held_counter
from streams.worker.agents.batch import EventsBatch
from streams.worker.agents.guard import describe
from streams.worker.app import app, events_topic, metrics, profiles, progress, runtime, settings
from streams.worker.control import ControlledBatch, forget_counter

log = logging.getLogger(__name__)


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
    """Consume behaviour events in micro-batches (``take_events``: per-record event context).

    Processing errors stay inside the batch handler (:mod:`streams.worker.agents.guard`). Should
    anything else escape it, Faust would acknowledge the whole batch in ``take_events``'s
    ``finally``: the batch is marked uncommittable and read again instead (:meth:`gate.rewind`),
    and on cancellation (shutdown) it is left for the next start.
    """
    await runtime.ready()
    progress.started()
    try:
        async for batch in stream.take_events(settings.batch_max, within=settings.batch_wait_s):
            passed = await gate(batch)
            try:
                await handle_events(passed)
            except Exception as exc:
                log.error("a batch failed outside the guard (%s); reading it again", describe(exc))
                await gate.rewind(passed)
                await asyncio.sleep(settings.retry_max_s)
            except BaseException:
                for ev in passed:
                    ev.message.tracked = False  # not committable: read again after a restart
                raise
            progress.batch_done()
    except BaseException as exc:
        progress.ended(describe(exc))
        raise
    progress.ended("its stream ended")
