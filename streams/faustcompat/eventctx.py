"""Per-record Faust event context for table writes from a micro-batch.

Faust routes a table write to the changelog partition of the *current event*. After
``stream.take_events(...)`` the stream's current event is the last one of the batch (or none), so
each write must say which record it belongs to: ``with as_current(event): table[key] = value``.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event
from faust.types import EventT


@contextmanager
def as_current(event: EventT[Any]) -> Iterator[None]:
    """Make ``event`` Faust's current event for the duration of the block."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
