"""The worker owns placement: every event is applied on its user's partition.

A user's profile lives on one partition of the events topic: ``murmur2(user_id) % partitions``,
the placement Faust's profiles table and its HTTP routing use (as do driftrec's producer, Java and
kafka-python clients). librdkafka clients (kcat, confluent-kafka, most non-Java clients) hash keys
with CRC32 by default, and a record without a key lands on any partition. Applied where they land,
such events would build a second, independent profile on another worker, invisible to the views.

:class:`Placement` runs before anything else touches a micro-batch, as Kafka Streams' repartition
topics and Faust's ``group_by`` do: a valid event (or forget request) on another partition than its
user's is **forwarded**, re-produced on the same topic keyed by ``user_id`` with an explicit
partition, the original value, timestamp and headers, plus the header ``driftrec-placed:
"<partition>:<offset>"`` naming the original. The original is done (committed) only after the
broker acknowledged the copy. Everything else (records on their user's partition, keyed or not,
and invalid records, which go to the DLQ from where they are) goes on to the handler.

Ordering: the copies of one partition's records are produced in offset order by one producer,
which sends one batch per partition at a time, so a client's events keep their order on the
user's partition. Two clients' events have no order between them (they never had).

Effectively-once: a crash after the copy was acknowledged and before the original's offset was
committed forwards the original again: a second copy. Forwarding is at-least-once; applying is
not, because a copy's profile offset is the *original's* (:func:`origin`): the profile stores the
last applied offset per topic-partition, and the second copy carries the same original position,
so it is skipped like any redelivery, however many events came between.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiokafka.partitioner import murmur2

from profiles.profile import source_key
from streams.messages.codec import decode_event
from streams.messages.records import RecordError
from streams.settings import Settings
from streams.worker.control import FORGET, ControlError, control_kind, parse_forget

log = logging.getLogger(__name__)

PLACED_HEADER: Final = "driftrec-placed"
Headers = list[tuple[str, bytes]]
#: (partition, key, value, timestamp, headers) -> awaitable delivery (or None when sent).
Forward = Callable[[int, bytes, bytes | None, float | None, Headers], Awaitable[Any]]
Handle = Callable[[Sequence[Any]], Awaitable[Any]]


def user_partition(user_id: str, partitions: int) -> int:
    """The partition of ``user_id``'s profile: Kafka's default (murmur2) partitioner."""
    return int(murmur2(user_id.encode("utf-8")) & 0x7FFFFFFF) % partitions


def _pairs(headers: Any) -> Headers:
    if not headers:
        return []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return [(str(name), b"" if value is None else bytes(value)) for name, value in pairs]


def origin(msg: Any) -> tuple[str, int]:
    """Where a record's profile offset is counted: its own topic-partition and offset, or for a
    forwarded copy, the original's (so a second copy of one original is a redelivery)."""
    for name, value in _pairs(getattr(msg, "headers", None)):
        if name != PLACED_HEADER:
            continue
        try:
            partition, offset = (int(part) for part in value.decode("ascii").split(":"))
        except (UnicodeDecodeError, ValueError):
            break
        if partition >= 0 and offset >= 0:
            return source_key(msg.topic, partition), offset
        break
    return source_key(msg.topic, msg.partition), msg.offset


@dataclass
class Placement:
    """Forwards misplaced records of a micro-batch, hands the rest to ``handle``."""

    settings: Settings
    handle: Handle
    forward: Forward
    on_forward: Callable[[str], None] = lambda reason: None
    retries: int = 5
    backoff_s: float = 0.2

    def user_of(self, ev: Any) -> str | None:
        """The user a record belongs to; None for a record only the handler can judge."""
        msg = ev.message
        kind = control_kind(getattr(msg, "headers", None))
        try:
            if kind is not None:
                return parse_forget(msg.key, ev.value) if kind == FORGET else None
            limit = self.settings.max_message_bytes
            return decode_event(
                ev.value, msg.key, max_bytes=limit, times=self.settings.times
            ).user_id
        except (RecordError, ControlError):
            return None  # dead-lettered by the handler, from where it is

    async def __call__(self, events: Sequence[Any]) -> None:
        placed: list[Any] = []
        pending: list[Any] = []
        for ev in events:
            user = self.user_of(ev)
            msg = ev.message
            if user is None:
                placed.append(ev)
                continue
            partition = user_partition(user, self.settings.partitions)
            if partition == msg.partition:
                placed.append(ev)
                continue
            pending.append(await self._forward(ev, user, partition))
            self.on_forward("keyless" if msg.key is None else "misplaced")
        # Every copy acknowledged before this batch (and its originals' offsets) is done.
        await asyncio.gather(*(p for p in pending if inspect.isawaitable(p)))
        if placed:
            await self.handle(placed)

    async def _forward(self, ev: Any, user: str, partition: int) -> Any:
        msg = ev.message
        headers = _pairs(getattr(msg, "headers", None))
        if not any(name == PLACED_HEADER for name, _ in headers):
            headers.append((PLACED_HEADER, f"{msg.partition}:{msg.offset}".encode("ascii")))
        key = user.encode("utf-8")
        timestamp = getattr(msg, "timestamp", None)
        for attempt in range(self.retries + 1):
            try:
                return await self.forward(partition, key, ev.value, timestamp, headers)
            except Exception as exc:  # a broker hiccup: try again, never drop the record
                if attempt == self.retries:
                    raise
                log.warning(
                    "forwarding %s[%d]@%d to partition %d failed (%s); retrying",
                    msg.topic,
                    msg.partition,
                    msg.offset,
                    partition,
                    exc,
                )
                await asyncio.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")
