"""Micro-batches through Faust's test_context (no broker): the adaptive take against Faust's."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import faust
import pytest

from streams.faustcompat.batching import BatchMode, take_batches


class Taker:
    """An app whose one agent takes micro-batches and records them; ``hold`` pauses the agent
    inside a batch (as processing would) until set; ``fail_on`` makes the block raise."""

    def __init__(self, folder: Path, mode: BatchMode, max_: int, within: float) -> None:
        self.loop = asyncio.new_event_loop()  # one per app: the fixture closes them
        self.app = faust.App(
            f"take-{mode}",
            loop=self.loop,
            broker="kafka://127.0.0.1:1",  # never reached: test_context has no consumer
            store="memory://",
            datadir=str(folder),
            web_enabled=False,
            autodiscover=False,
        )
        self.batches: list[list[Any]] = []
        self.taken_at: list[float] = []
        self.acked: list[int] = []
        self.acked_during: list[list[int]] = []  # what was acknowledged while each block ran
        self.hold = asyncio.Event()
        self.hold.set()
        self.fail_on: int | None = None
        self.errors: list[str] = []
        topic = self.app.topic("events", value_serializer="raw")

        @self.app.agent(topic)
        async def taker(stream: Any) -> None:
            real_ack = stream.ack

            async def ack(event: Any) -> bool:
                self.acked.append(event.message.offset)
                return bool(await real_ack(event))

            stream.ack = ack
            async for batch in take_batches(stream, max_, within, mode):
                self.taken_at.append(time.monotonic())
                self.batches.append(list(batch))
                await self.hold.wait()
                self.acked_during.append(list(self.acked))
                if self.fail_on is not None and len(self.batches) == self.fail_on:
                    try:
                        raise ValueError("the block raised")
                    except ValueError as exc:
                        self.errors.append(str(exc))
                        break  # the generator is closed: its finally acknowledges the batch

        self.agent = taker

    def offsets(self) -> list[list[int]]:
        return [[ev.message.offset for ev in batch] for batch in self.batches]

    def run(self, fn: Callable[[Any], Awaitable[None]]) -> None:
        async def go() -> None:
            async with self.agent.test_context() as agent:
                await fn(agent)

        self.loop.run_until_complete(go())


@pytest.fixture
def taker(tmp_path: Path) -> Iterator[Callable[..., Taker]]:
    made: list[Taker] = []

    def make(mode: BatchMode, max_: int = 256, within: float = 5.0) -> Taker:
        made.append(Taker(tmp_path / f"app{len(made)}", mode, max_, within))
        return made[-1]

    yield make
    for t in made:
        t.loop.close()
    # The consumer thread's loop (made when app.consumer is first touched) is never run to
    # completion here either; close it, or it warns (ResourceWarning) at exit.
    for obj in gc.get_objects():
        if issubclass(type(obj), asyncio.AbstractEventLoop) and not obj.is_running():
            obj.close()


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.005)


def test_an_idle_worker_takes_one_event_at_once_where_faust_waits_for_the_batch_to_fill(
    taker: Callable[..., Taker],
) -> None:
    waited: dict[str, float] = {}
    for mode, within in (("adaptive", 5.0), ("fixed", 0.5)):
        t = taker(mode, within=within)

        async def one(agent: Any, t: Taker = t, mode: str = mode) -> None:
            await asyncio.sleep(0.05)  # the agent is idle, waiting
            sent = time.monotonic()
            await agent.put(b"e0", wait=False)
            await until(lambda: t.batches, "a batch")
            waited[mode] = t.taken_at[0] - sent

        t.run(one)
        assert t.offsets() == [[0]]
    assert waited["adaptive"] < 0.25, waited  # not the 5 s it may wait at most
    assert waited["fixed"] >= 0.3, waited  # Faust's take waits for the batch to fill


def test_a_batch_is_what_arrived_while_the_previous_one_was_processed(
    taker: Callable[..., Taker],
) -> None:
    t = taker("adaptive", max_=4)

    async def burst(agent: Any) -> None:
        t.hold.clear()  # the first batch is "processed" until released
        await agent.put(b"e0", wait=False)
        await until(lambda: len(t.batches) == 1, "the first batch")
        for k in range(1, 11):
            await agent.put(f"e{k}".encode(), wait=False)
        await asyncio.sleep(0.05)
        assert len(t.batches) == 1, "nothing is taken while a batch is processed"
        t.hold.set()
        await until(lambda: sum(map(len, t.batches)) == 11, "every event taken")
        await until(lambda: len(t.acked) == 11, "every event acknowledged")

    t.run(burst)
    # Bounded by max_, in order, each item Faust's event with its own message and value.
    assert t.offsets() == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert [ev.value for batch in t.batches for ev in batch] == [
        f"e{k}".encode() for k in range(11)
    ]
    assert t.acked == list(range(11))


def test_events_already_waiting_are_taken_together_up_to_the_maximum(
    taker: Callable[..., Taker],
) -> None:
    t = taker("adaptive", max_=256)

    async def waiting(agent: Any) -> None:
        t.hold.clear()
        await agent.put(b"e0", wait=False)
        await until(lambda: len(t.batches) == 1, "the first batch")
        for k in range(1, 301):
            await agent.put(f"e{k}".encode(), wait=False)
        t.hold.set()
        await until(lambda: sum(map(len, t.batches)) == 301, "every event taken")

    t.run(waiting)
    assert [len(b) for b in t.batches] == [1, 256, 44]
    assert [o for batch in t.offsets() for o in batch] == list(range(301))


def test_a_batch_is_acknowledged_after_its_block_also_when_the_block_raised(
    taker: Callable[..., Taker],
) -> None:
    t = taker("adaptive", max_=8)
    t.fail_on = 2

    async def failing(agent: Any) -> None:
        t.hold.clear()
        await agent.put(b"e0", wait=False)
        await until(lambda: len(t.batches) == 1, "the first batch")
        for k in range(1, 4):
            await agent.put(f"e{k}".encode(), wait=False)
        await asyncio.sleep(0.02)
        assert t.acked == [], "nothing is acknowledged while its batch is processed"
        t.hold.set()
        await until(lambda: len(t.acked) == 4, "both batches acknowledged")

    t.run(failing)
    assert t.offsets() == [[0], [1, 2, 3]]
    assert t.errors == ["the block raised"]
    # Each block ran with only the earlier batches acknowledged; the raising one was acked after.
    assert t.acked_during == [[], [0]]
    assert t.acked == [0, 1, 2, 3]
