"""Micro-batches from a Faust stream: Faust's ``take_events`` (fixed) or an adaptive take.

Faust 0.15.3's ``Stream.take_events(max_, within)`` yields when ``max_`` events are buffered or
``within`` seconds have passed: at a low rate every event waits up to ``within`` for a batch that
never fills. :func:`take_adaptive` is the dynamic batching of inference servers instead: it waits
for the first event, then takes what has already arrived (the stream's channel queue drained, up to
``max_``) and yields at once. At a low rate a batch is one or a few events, yielded without delay;
under load it is what arrived while the previous batch was processed, bounded by ``max_``.

It is Faust's ``take_events`` with only the wait changed, and keeps what the agents rely on:

* every item is Faust's event (``.message``, ``.value``), for the per-record event context of
  table writes (:mod:`streams.faustcompat.eventctx`);
* the events of a batch are acknowledged (``stream.ack``) in a ``finally`` when the consumer's
  block ends, also when it raised, as Faust's does (the agents mark a batch they could not handle
  untracked first: ``streams/worker/agents/events.py``, :mod:`streams.faustcompat.acks`);
* while a batch is being handled no later event enters the buffer (Faust's ``buffer_consuming``
  future), so batches stay in the stream's order and the in-order gate sees them as before.

Faust internals used (tested with 0.15.3 only, see README.md): ``Stream.add_processor``,
``Stream._enable_passive`` (the background drainer that feeds the processor), ``enable_acks``,
``current_event``, ``ack``, ``wait``, ``wait_for_stopped``, ``crash``, ``_processors``,
``_active_agens`` and the channel's ``queue`` (``empty()``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, Literal

BatchMode = Literal["adaptive", "fixed"]

#: Loop turns without a new event (channel queue not empty) before a drain gives up: the drainer
#: moves one event per turn or two; more turns than this means it is held up elsewhere.
STALLED_TURNS = 3


def take_batches(
    stream: Any, max_: int, within: float, mode: BatchMode
) -> AsyncIterator[Sequence[Any]]:
    """Micro-batches of ``stream``'s events: ``fixed`` is Faust's ``take_events``, ``adaptive``
    is :func:`take_adaptive`."""
    if mode == "fixed":
        it: AsyncIterator[Sequence[Any]] = stream.take_events(max_, within=within)
        return it
    agen = take_adaptive(stream, max_, within)
    # As Faust does for its own take generators: Stream.on_stop closes a generator left open.
    stream._active_agens.add(agen)
    return agen


async def take_adaptive(stream: Any, max_: int, within: float) -> AsyncGenerator[list[Any], None]:
    """Yield lists of at most ``max_`` events: as soon as one has arrived, with every event already
    waiting in the channel. ``within`` bounds a drain and how often a stop is checked while idle.
    """
    events: list[Any] = []
    arrived = asyncio.Event()  # the buffer holds an event
    consumed = asyncio.Event()  # a full buffer was yielded: the drainer may go on
    consuming: asyncio.Future[None] | None = None  # set while the consumer holds a batch
    queue = getattr(stream.channel, "queue", None)
    stream_enable_acks: bool = stream.enable_acks
    channel_it = aiter(stream.channel)

    async def add_to_buffer(value: Any) -> Any:
        # Runs in the stream's drainer task for each event, with stream.current_event set.
        nonlocal consuming
        try:
            if consuming is not None:
                try:
                    await consuming
                finally:
                    consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("adaptive take found current_event is None")
            events.append(event)
            arrived.set()
            if len(events) >= max_:
                consumed.clear()
                await stream.wait(consumed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    async def drain() -> None:
        """Let the drainer move what already waits in the channel into the buffer."""
        deadline = time.monotonic() + within
        stalled = 0
        while len(events) < max_ and not stream.should_stop:
            before = len(events)
            await asyncio.sleep(0)
            if len(events) > before:
                stalled = 0
                continue
            stalled += 1
            if queue is None or queue.empty() or stalled >= STALLED_TURNS:
                return
            if time.monotonic() >= deadline:
                return

    stream.enable_acks = False  # acknowledged below, once the consumer is done with the batch
    stream.add_processor(add_to_buffer)
    stream._enable_passive(channel_it)
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(arrived, timeout=within)
            if not events:
                continue
            await drain()
            consuming = asyncio.get_running_loop().create_future()
            batch = list(events)
            try:
                yield batch
            finally:
                events.clear()
                for event in batch:
                    await stream.ack(event)
                if not consuming.done():
                    consuming.set_result(None)
                arrived.clear()
                consumed.set()
    finally:
        stream.enable_acks = stream_enable_acks
        stream._processors.remove(add_to_buffer)
