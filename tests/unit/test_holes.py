"""The items stream's hole filler: records past a hole are preceded by the hole's records."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

from streams.faustcompat.holes import HoleFiller, Record

P0 = TP("items", 0)


class Broker:
    """A partition's log (a dict, so compacted offsets are simply absent) and a committed offset."""

    def __init__(self, offsets: list[int], committed: int | None = 0) -> None:
        self.log = {o: (f"k{o}".encode(), f"v{o}".encode()) for o in offsets}
        self.committed = committed
        self.reads: list[tuple[int, int]] = []
        self.gen = 1
        self.fail = False

    async def read_range(self, tp: Any, start: int, end: int) -> list[Record]:
        self.reads.append((start, end))
        if self.fail:
            raise OSError("broker away")
        return [(o, *self.log[o]) for o in range(start, end) if o in self.log]

    async def start_offset(self, tp: Any) -> int:
        if self.committed is None:
            raise OSError("no coordinator")
        return self.committed

    def filler(self) -> HoleFiller:
        return HoleFiller(self.read_range, lambda: self.gen, self.start_offset)


def deliver(filler: HoleFiller, *offsets: int) -> list[int]:
    """Offsets in the order they would be processed (hole records first)."""

    async def go() -> list[int]:
        out: list[int] = []
        for o in offsets:
            out += [r[0] for r in await filler.before(P0, o)] + [o]
        return out

    return asyncio.run(go())


def test_in_order_delivery_reads_nothing() -> None:
    broker = Broker(list(range(6)))
    assert deliver(broker.filler(), 0, 1, 2, 3, 4, 5) == [0, 1, 2, 3, 4, 5]
    assert broker.reads == []


def test_a_skipped_record_is_read_and_processed_before_the_next() -> None:
    broker = Broker(list(range(6)))
    # The failure seen with two workers starting at once: offset 3 never delivered.
    assert deliver(broker.filler(), 0, 1, 2, 4, 5) == [0, 1, 2, 3, 4, 5]
    assert broker.reads == [(3, 4)]


def test_a_generation_starts_at_the_committed_offset() -> None:
    broker = Broker(list(range(10)), committed=4)
    filler = broker.filler()
    # First record of the generation is a prefetched one past the committed offset.
    assert deliver(filler, 7, 8) == [4, 5, 6, 7, 8]
    broker.gen, broker.committed = 2, 9
    assert deliver(filler, 8, 9) == [8, 9]  # a redelivery below the new start passes as is


def test_a_compacted_range_reads_as_nothing_and_is_passed() -> None:
    broker = Broker([0, 1, 5, 6])  # 2..4 compacted away
    assert deliver(broker.filler(), 0, 1, 5, 6) == [0, 1, 5, 6]
    assert broker.reads == [(2, 5)]


def test_a_failed_read_is_retried_with_the_next_record() -> None:
    broker = Broker(list(range(6)))
    filler = broker.filler()
    broker.fail = True
    assert deliver(filler, 0, 2) == [0, 2]
    broker.fail = False
    assert deliver(filler, 3) == [1, 2, 3]
    assert broker.reads == [(1, 2), (1, 3)]


def test_unknown_committed_offset_starts_at_the_first_record_seen() -> None:
    broker = Broker(list(range(6)), committed=None)
    assert deliver(broker.filler(), 2, 3, 5) == [2, 3, 4, 5]
