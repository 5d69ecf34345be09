"""The in-order gate: nothing is processed past a gap in a partition; the consumer seeks back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from faust.types import TP

from streams.faustcompat.ordering import InOrderGate

P0, P1 = TP("events", 0), TP("events", 1)


@dataclass
class Msg:
    tp: TP
    offset: int
    tracked: bool = True


@dataclass
class Ev:
    message: Msg


def evs(tp: TP, *offsets: int) -> list[Ev]:
    return [Ev(Msg(tp, o)) for o in offsets]


class Consumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[TP, int]] = []
        self.gen = 1
        self.now = 0.0
        self.held = 0
        self.committed: dict[TP, int] = {}  # absent: the broker cannot be asked

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def start_offset(self, tp: Any) -> int:
        if tp not in self.committed:
            raise ConnectionError("broker unreachable")
        return self.committed[tp]

    def gate(self) -> InOrderGate:
        return InOrderGate(
            self.seek,
            lambda: self.gen,
            self.start_offset,
            self.on_gap,
            reseek_after_s=1.0,
            clock=lambda: self.now,
        )

    def on_gap(self, n: int) -> None:
        self.held += n


def offsets(batch: list[Any]) -> list[tuple[int, int]]:
    return [(e.message.tp.partition, e.message.offset) for e in batch]


def test_in_order_batches_pass_untouched() -> None:
    c = Consumer()
    c.committed = {P0: 10, P1: 3}
    gate = c.gate()
    first = asyncio.run(gate(evs(P0, 10, 11) + evs(P1, 3)))
    second = asyncio.run(gate(evs(P0, 12) + evs(P1, 4, 5)))
    assert offsets(first) == [(0, 10), (0, 11), (1, 3)]
    assert offsets(second) == [(0, 12), (1, 4), (1, 5)]
    assert c.seeks == [] and c.held == 0


def test_a_gap_holds_the_rest_of_the_partition_back_and_seeks() -> None:
    c = Consumer()
    c.committed = {P0: 140, P1: 7}
    gate = c.gate()
    asyncio.run(gate(evs(P0, 140, 141)))
    batch = evs(P0, 152, 153) + evs(P1, 7) + evs(P0, 142)  # 142..151 went missing
    passed = asyncio.run(gate(batch))
    assert offsets(passed) == [(1, 7)], "nothing of partition 0 past the gap, not even 142 after it"
    assert c.seeks == [(P0, 142)]
    assert [e.message.tracked for e in batch] == [False, False, True, False]
    assert c.held == 3
    # Leftovers fetched before the seek are held without a second seek; then 142.. arrive.
    assert asyncio.run(gate(evs(P0, 154))) == []
    assert c.seeks == [(P0, 142)]
    again = asyncio.run(gate(evs(P0, 142, 143, 144)))
    assert offsets(again) == [(0, 142), (0, 143), (0, 144)]


def test_redeliveries_pass_and_the_profile_dedupes_them() -> None:
    c = Consumer()
    c.committed = {P0: 100}
    gate = c.gate()
    asyncio.run(gate(evs(P0, 100, 101, 102)))
    assert offsets(asyncio.run(gate(evs(P0, 101, 102, 103)))) == [(0, 101), (0, 102), (0, 103)]
    assert c.seeks == []


def test_a_stuck_gap_is_sought_again_after_a_while() -> None:
    c = Consumer()
    c.committed = {P0: 5}
    gate = c.gate()
    asyncio.run(gate(evs(P0, 5)))
    asyncio.run(gate(evs(P0, 9)))
    c.now = 2.0
    asyncio.run(gate(evs(P0, 9)))
    assert c.seeks == [(P0, 6), (P0, 6)]


def test_a_new_generation_starts_at_the_committed_offset() -> None:
    c = Consumer()
    c.committed = {P0: 5}
    gate = c.gate()
    asyncio.run(gate(evs(P0, 5)))
    c.gen, c.committed = 2, {P0: 30}  # rebalance: another worker got as far as 29
    assert offsets(asyncio.run(gate(evs(P0, 30, 31)))) == [(0, 30), (0, 31)]
    assert c.seeks == []


def test_a_message_prefetched_past_the_committed_offset_is_not_a_baseline() -> None:
    # Faust resumes the flow before it seeks to the committed offsets: the first message of a new
    # generation can lie past them. Taking it as the start would skip (lose) 30..39.
    c = Consumer()
    c.committed = {P0: 5}
    gate = c.gate()
    asyncio.run(gate(evs(P0, 5)))
    c.gen, c.committed = 2, {P0: 30}
    assert asyncio.run(gate(evs(P0, 40, 41))) == []
    assert c.seeks == [(P0, 30)]
    assert offsets(asyncio.run(gate(evs(P0, 30, 31)))) == [(0, 30), (0, 31)]


def test_without_the_broker_the_first_offset_seen_is_the_start() -> None:
    c = Consumer()
    gate = c.gate()
    assert offsets(asyncio.run(gate(evs(P0, 40, 41)))) == [(0, 40), (0, 41)]
    assert offsets(asyncio.run(gate(evs(P0, 42)))) == [(0, 42)]
    assert c.seeks == []
