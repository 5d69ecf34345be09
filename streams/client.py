"""Reading driftrec's recommendation lists from Python: the consumer side of docs/contracts.md.

Lists are published at least once, keyed by ``user_id``; a null value (tombstone) means the user
was forgotten. :class:`ListFollower` turns the raw records into what an application wants, with
no Kafka in it (so any client library can feed it): repeats of a list (same user, same
``event_id``) are dropped, a tombstone forgets the user's list, and the newest list per user is
kept. :func:`follow_lists` runs it on a Kafka consumer::

    from streams.client import follow_lists
    from streams.settings import Settings

    for update in follow_lists(Settings(), group_id="my-app"):
        if update.forgotten:
            cache.pop(update.user_id, None)
        else:
            cache[update.user_id] = [item["item_id"] for item in update.items]
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer

from streams.settings import Settings


@dataclass(frozen=True)
class ListUpdate:
    """A new list for a user, or (``forgotten``) the end of everything held for them."""

    user_id: str
    recommendation: dict[str, Any] | None

    @property
    def forgotten(self) -> bool:
        return self.recommendation is None

    @property
    def items(self) -> list[dict[str, Any]]:
        return [] if self.recommendation is None else list(self.recommendation["items"])


class ListFollower:
    """Raw (key, value) records of the recommendations topic -> :class:`ListUpdate`, deduplicated.

    Remembers the last ``remember`` (user, event_id) pairs seen to drop repeats; a redelivered list
    comes within seconds of its first copy, so a bounded memory is enough.
    """

    def __init__(self, remember: int = 100_000) -> None:
        if remember < 1:
            raise ValueError(f"remember must be >= 1, got {remember}")
        self.remember = remember
        self.latest: dict[str, dict[str, Any]] = {}
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.repeats_dropped = 0

    def apply(self, key: bytes | None, value: bytes | None) -> ListUpdate | None:
        """The update a record means, or None for a repeat. Raises ValueError on a bad record."""
        if key is None:
            raise ValueError("a recommendation record without a key (the key is the user_id)")
        user = key.decode()
        if value is None:
            self.latest.pop(user, None)
            for seen in [s for s in self._seen if s[0] == user]:
                del self._seen[seen]
            return ListUpdate(user, None)
        rec = json.loads(value)
        if not isinstance(rec, dict) or rec.get("user_id") != user:
            raise ValueError(f"not a recommendation list of user {user!r}: {value[:200]!r}")
        mark = (user, str(rec.get("event_id")))
        if mark in self._seen:
            self._seen.move_to_end(mark)
            self.repeats_dropped += 1
            return None
        self._seen[mark] = None
        if len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        self.latest[user] = rec
        return ListUpdate(user, rec)


def follow_lists(
    settings: Settings,
    *,
    group_id: str | None = None,
    from_beginning: bool = True,
    idle_timeout_s: float | None = None,
    follower: ListFollower | None = None,
) -> Iterator[ListUpdate]:
    """Updates from the recommendations topic, as they arrive.

    ``group_id``: a consumer group (offsets committed, partitions shared among its members);
    None reads every partition. ``idle_timeout_s``: stop after that long without a record.
    TLS/SASL come from the same ``DRIFTREC_KAFKA_*`` settings as the worker's.
    """
    follower = follower or ListFollower()
    consumer = KafkaConsumer(
        settings.recommendations_topic,
        **settings.kafka_python_config(),
        group_id=group_id,
        enable_auto_commit=group_id is not None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    try:
        last = time.monotonic()
        while idle_timeout_s is None or time.monotonic() - last < idle_timeout_s:
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    last = time.monotonic()
                    update = follower.apply(record.key, record.value)
                    if update is not None:
                        yield update
    finally:
        consumer.close()
