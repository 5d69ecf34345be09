"""The behaviour agent: micro-batches of events -> profiles table and recommendation lists.

Each micro-batch goes through, in order: the in-order gate (never past a gap in a partition),
placement (records on another partition than their user's are forwarded there), control records
(forget requests split the batch where they occur), the item hold (events on items the catalog
does not hold yet wait for them) and the events batch (decode, engine, table, lists).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any

from streams.faustcompat import commitguard
from streams.faustcompat.batching import take_batches
from streams.faustcompat.offsets import start_offset
from streams.faustcompat.ordering import InOrderGate
from streams.worker.agents.batch import EventsBatch
from streams.worker.agents.guard import describe
from streams.worker.agents.waiting import HoldingBatch
from streams.worker.control import ControlledBatch
from streams.worker.factory import Worker
from streams.worker.placement import Headers, Placement

log = logging.getLogger(__name__)


def register(w: Worker) -> dict[str, Any]:
    """Add the behaviour agent and the hold's timer to ``w.app``; return the parts by name."""
    app, events_topic, metrics, profiles, progress, runtime, settings = (
        w.app,
        w.events_topic,
        w.metrics,
        w.profiles,
        w.progress,
        w.runtime,
        w.settings,
    )

    async def _send(topic: str, key: bytes, value: bytes | None) -> Any:
        return await app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=None
        )

    async def _forward(
        partition: int, key: bytes, value: bytes | None, timestamp: float | None, headers: Headers
    ) -> Any:
        return await app.producer.send(
            settings.events_topic,
            key,
            value,
            partition=partition,
            timestamp=timestamp,
            headers=headers,
        )

    async def _known(items: set[str]) -> Collection[str]:
        return await runtime.run(lambda engine: {i for i in items if i in engine.index})

    def _assigned() -> Collection[Any]:
        return app.consumer.assignment()

    handle_batch = EventsBatch(settings, runtime, metrics, profiles, _send)
    holding = HoldingBatch(
        settings,
        handle_batch,
        known=_known,
        ack=lambda message: commitguard.ack_late(app.consumer, message),
        generation=lambda: app.consumer_generation_id,
        assigned=_assigned,
        metrics=metrics.wait,
    )
    commitguard.set_floor(holding.floor)
    commitguard.install()

    def _on_forget(user: str) -> None:
        metrics.users_forgotten.inc()
        holding.forget(user)

    # Control records (driftrec forget) ride on the events topic, ordered with the user's events.
    handle_events = ControlledBatch(settings, holding, profiles, _send, _on_forget)
    placement = Placement(
        settings,
        handle_events,
        _forward,
        lambda reason: metrics.forwarded.labels(reason=reason).inc(),
    )

    # Faust can deliver a partition out of order around rebalances: never process past a gap.
    gate = InOrderGate(
        seek=lambda tp, offset: app.consumer.seek(tp, offset),
        generation=lambda: app.consumer_generation_id,
        start_offset=lambda tp: start_offset(app.consumer, tp),
        on_gap=metrics.held_back.inc,
    )
    # The agent and the hold's timer take turns: both change the hold and the profiles.
    _turn = asyncio.Lock()

    @app.agent(events_topic, name="behaviour")
    async def behaviour(stream: Any) -> None:
        """Consume behaviour events in micro-batches (:mod:`streams.faustcompat.batching`, adaptive
        or Faust's ``take_events``: per-record event context).

        Processing errors stay inside the batch handler (:mod:`streams.worker.agents.guard`). Should
        anything else escape it, the take (either mode) would acknowledge the whole batch in its
        ``finally``: the batch is marked uncommittable and read again instead (:meth:`gate.rewind`),
        also when an error no handler catches ends the agent (Faust restarts it in this process);
        on cancellation (shutdown) it is left for the next start.
        """
        await runtime.ready()
        progress.started()
        try:
            batches = take_batches(
                stream, settings.batch_max, settings.batch_wait_s, settings.batch_mode
            )
            async for batch in batches:
                passed = await gate(batch)
                try:
                    async with _turn:
                        await placement(passed)
                except Exception as exc:
                    log.error(
                        "a batch failed outside the guard (%s); reading it again", describe(exc)
                    )
                    await gate.rewind(passed)
                    await asyncio.sleep(settings.retry_max_s)
                except asyncio.CancelledError:
                    for ev in passed:
                        ev.message.tracked = False  # not committable: read again after a restart
                    raise
                except BaseException:
                    # No handler caught it: this task ends, and Faust's supervisor starts the
                    # agent again in this process, past the batch: read it again first.
                    await gate.rewind(passed)
                    await asyncio.sleep(settings.retry_max_s)  # no tight crash loop
                    raise
                progress.batch_done()
        except BaseException as exc:
            progress.ended(describe(exc))
            raise
        progress.ended("its stream ended")

    @app.timer(interval=0.25)  # type: ignore[untyped-decorator]  # Faust's decorator is untyped
    async def release_waiting() -> None:
        """Apply held events whose item arrived (or give them up) while no new events come."""
        if runtime.engine is None or not len(holding.wait):
            return
        async with _turn:
            await holding.tick()

    return {
        "behaviour": behaviour,
        "release_waiting": release_waiting,
        "handle_batch": handle_batch,
        "holding": holding,
        "handle_events": handle_events,
        "placement": placement,
        "gate": gate,
    }
