"""Offsets read from Faust's consumer, which keeps them privately (no public accessor in 0.15.3)."""

from __future__ import annotations

from typing import Any


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The offset Faust last committed for ``tp`` (None before the first commit).

    The lag gauge reads Faust's private ``Consumer._committed_offset`` rather than asking the
    broker at every refresh.
    """
    value: int | None = consumer._committed_offset.get(tp)
    return value


async def start_offset(consumer: Any, tp: Any) -> int:
    """Where a partition's stream starts after an assignment: its committed offset, asked of the
    broker (Faust's own bookkeeping is filled in only once its seek has happened), or the start of
    the log when nothing was committed or retention has deleted the committed position (the
    consumer then resets to the earliest offset, ``auto_offset_reset``)."""
    thread = consumer._thread  # Faust's aiokafka consumer runs in its own thread and loop
    committed = await thread.call_thread(thread._ensure_consumer().committed, tp)
    earliest = int((await consumer.earliest_offsets(tp))[tp])
    return earliest if committed is None else max(int(committed), earliest)
