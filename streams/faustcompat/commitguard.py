"""Keep Faust's commits below events the worker still holds (faust-streaming 0.15.3).

An event waiting for its catalog item (:mod:`streams.worker.itemwait`) is not processed, but the
events after it in its partition are, and Faust commits the highest *consecutive* acknowledged
offset.
That alone does not protect a held offset: ``Consumer._new_offset`` lets a commit jump one
unacknowledged offset that sits right at the committed position (it refuses only a gap of more
than one: ``min(acked) - committed > 1``), and checks nothing while the partition has no committed
offset yet (a new group) or offset 0. A crash would then lose the held event.

:func:`install` wraps ``_new_offset``: offsets at or above the partition's *floor* (the lowest
held offset, asked of :func:`set_floor`'s callable) are kept out of the computation, so the commit
stops at the floor and a restarted worker reads the held event again. Acknowledged offsets above
the floor stay recorded, and count once the held event is acknowledged late (:func:`ack_late`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.transport.consumer import Consumer

Floor = Callable[[Any], int | None]  # topic-partition -> lowest offset not to commit past

_original_new_offset = Consumer._new_offset
_floor: Floor = lambda tp: None  # noqa: E731  (replaced by set_floor)


def set_floor(floor: Floor) -> None:
    """Where commits must stop: ``floor(tp)`` is the lowest offset still held, or None."""
    global _floor
    _floor = floor


def new_offset_below_floor(consumer: Any, tp: Any) -> int | None:
    """``Consumer._new_offset`` that never returns an offset past ``tp``'s floor."""
    floor = _floor(tp)
    if floor is None:
        return _original_new_offset(consumer, tp)
    acked: list[int] = consumer._acked[tp]
    above = [offset for offset in acked if offset >= floor]
    acked[:] = [offset for offset in acked if offset < floor]
    try:
        new = _original_new_offset(consumer, tp)
    finally:
        acked.extend(above)  # Faust keeps the same list object; it sorts before use
        acked.sort()
    if new is not None and new > floor:
        return floor  # never past a held offset, whatever Faust's gap bookkeeping added
    return new


def install() -> None:
    """Patch Faust's consumer (idempotent)."""
    Consumer._new_offset = new_offset_below_floor  # type: ignore[method-assign,assignment]  # on purpose


def untrack(message: Any) -> None:
    """Keep a held message's offset out of its batch's acknowledgement (:mod:`.acks` skips
    untracked messages)."""
    message.tracked = False


def ack_late(consumer: Any, message: Any) -> None:
    """Acknowledge a held message once it was handled (its batch's acknowledgement skipped it:
    held messages are untracked, see :mod:`streams.faustcompat.acks`)."""
    message.tracked = True
    message.acked = False
    consumer.ack(message)
