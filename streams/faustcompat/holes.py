"""The items stream never passes a hole: records Faust did not deliver are read from the broker.

Found with two workers started at once on a catalog already on the items topic: around the
rebalances of that start, faust-streaming 0.15.3 delivered the items partition with one record
missing (offset 1541 of 3,000: offsets 1540 and 1542 were processed, 1541 never) and the commit
moved past it, so no worker ever wrote that item to the catalog table, and every worker's index
missed it (same family as :mod:`streams.faustcompat.acks` and :mod:`streams.faustcompat.ordering`,
which guard the events topic). The events' :class:`~streams.faustcompat.ordering.InOrderGate` cannot
be reused as is: the items topic is compacted, so a jump in offsets is also what compaction leaves,
and seeking back to a compacted offset would deliver the same jump again.

:class:`HoleFiller` keeps, per partition and consumer generation, the next offset it expects (a
new generation starts at the partition's committed offset, as the gate does). When a record comes
past that offset, the records in between are read directly from the broker (a compacted range
reads as nothing) and handed back to be processed first, so per-key order is kept. Records below
the expected offset are redeliveries and pass (the catalog is idempotent per key). Most fills
happen at a generation's start, where Faust delivers prefetched records before it seeks back to the
committed offset; those records are then processed twice, which costs embedding work (text cache
hits), not correctness.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.faustcompat.ordering import NextOffsets, StartOffset
from streams.readend import read_to_end

log = logging.getLogger(__name__)
Record = tuple[int, bytes | None, bytes | None]  # offset, key, value
ReadRange = Callable[[Any, int, int], Awaitable[list[Record]]]  # (tp, start, end) -> records


@dataclass
class HoleFiller:
    """See the module docstring."""

    read_range: ReadRange
    generation: Callable[[], int]
    start_offset: StartOffset

    def __post_init__(self) -> None:
        self._next = NextOffsets(self.generation, self.start_offset)

    async def before(self, tp: Any, offset: int) -> list[Record]:
        """The records of ``tp`` below ``offset`` that were never delivered, in offset order."""
        self._next.new_generation()
        expected = await self._next.get(tp, offset)
        if offset < expected:
            return []  # a redelivery
        if offset == expected:
            self._next.passed(tp, offset)
            return []
        try:
            missing = await self.read_range(tp, expected, offset)
        except Exception as exc:  # expected stays: the next record asks for the whole hole again
            log.warning(
                "%s[%d]: could not read the skipped offsets %d..%d: %s",
                tp.topic,
                tp.partition,
                expected,
                offset - 1,
                exc,
            )
            return []
        self._next.passed(tp, offset)
        if missing:
            log.warning(
                "%s[%d]: expected offset %d, got %d: read the %d records between from the broker",
                tp.topic,
                tp.partition,
                expected,
                offset,
                len(missing),
            )
        return missing


class BrokerRange:
    """Reads offsets ``[start, end)`` of a partition with one kafka-python consumer (no group)."""

    def __init__(self, kafka: dict[str, Any], timeout_s: float = 30.0) -> None:
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._consumer: Any = None

    async def __call__(self, tp: Any, start: int, end: int) -> list[Record]:
        return await asyncio.to_thread(self._read, tp.topic, tp.partition, start, end)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _read(self, topic: str, partition: int, start: int, end: int) -> list[Record]:
        if self._consumer is None:
            self._consumer = KafkaConsumer(**self._kafka, enable_auto_commit=False, group_id=None)
        consumer, ktp = self._consumer, TopicPartition(topic, partition)
        consumer.assign([ktp])
        consumer.seek(ktp, start)
        late = f"reading {topic}[{partition}] {start}..{end - 1} timed out"
        records = read_to_end(consumer, {ktp: end}, self._timeout_s, timeout_error=late)
        return [(r.offset, r.key, r.value) for r in records]
