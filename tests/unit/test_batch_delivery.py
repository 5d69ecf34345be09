"""Crash-safety of one micro-batch: lists are acknowledged before the profile is written, and a
redelivered batch writes the stored profile again so a changelog that fell behind catches up."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from profiles.profile import UserProfile
from streams.messages.records import BehaviourEvent
from streams.settings import Settings
from streams.worker.agents.batch import EventsBatch
from streams.worker.metrics import Metrics
from streams.worker.runtime import Runtime
from tests.fakes import FakeModel, catalog

TOPIC = "events"


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None


@dataclass
class FakeEvent:  # what Faust's take_events yields: .message and .value (weakref-able)
    message: Message
    value: bytes | None


class Log(dict[bytes, bytes]):
    """A table that records the order of writes next to the sends and acks."""

    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.order.append(f"write {key.decode()}")
        super().__setitem__(key, value)


class Producer:
    """A send that acknowledges each record only after a later loop iteration."""

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def __call__(self, topic: str, key: bytes, value: bytes | None) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        self.order.append(f"send {topic}")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def ack() -> None:
            self.order.append(f"ack {topic}")
            fut.set_result(None)

        asyncio.get_running_loop().call_later(0.01, ack)
        return fut


def _batch(order: list[str]) -> tuple[EventsBatch, Log, Producer]:
    settings = Settings(events_topic=TOPIC, recommendations_topic="recs", watch_registry=False)
    metrics = Metrics(CollectorRegistry())
    runtime = Runtime(settings, metrics, loader=lambda s: FakeModel())  # type: ignore[arg-type,return-value]
    runtime.catalog_changed((i.item_id, i) for i in catalog({"tea": 3, "bag": 3}))
    table, producer = Log(order), Producer(order)
    return EventsBatch(settings, runtime, metrics, table, producer), table, producer


def _events(user: str, n: int, first_offset: int = 0) -> list[FakeEvent]:
    out = []
    for i in range(n):
        ev = BehaviourEvent(f"{user}-e{i}", user, 1.7e9 + i, "click", item_id=f"tea-{i % 3}")
        msg = Message(TOPIC, 0, first_offset + i, user.encode())
        out.append(FakeEvent(msg, json.dumps(ev.to_json()).encode()))
    return out


def test_lists_are_acknowledged_before_the_profile_is_written() -> None:
    order: list[str] = []
    handle, table, _producer = _batch(order)
    result = asyncio.run(handle(_events("u1", 3)))
    assert result.lists, "a new user gets a cold-start list"
    assert b"u1" in table
    first_write = order.index("write u1")
    acks = [i for i, entry in enumerate(order) if entry == "ack recs"]
    assert len(acks) == len(result.lists)
    assert max(acks) < first_write, order


def test_a_redelivered_batch_writes_the_stored_profile_again() -> None:
    order: list[str] = []
    handle, table, _producer = _batch(order)
    events = _events("u1", 4)

    async def run() -> tuple[Any, Any]:
        first = await handle(events)
        order.clear()
        again = await handle(events)  # kill -9 before the commit: the same records come back
        return first, again

    first, again = asyncio.run(run())
    assert first.applied == 4
    assert again.applied == 0 and len(again.duplicates) == 4
    assert not again.lists, "no list is published twice for the same state"
    assert order == ["write u1"], "the profile is written again, unchanged"
    stored = UserProfile.from_bytes(table[b"u1"])
    assert stored.events_applied == 4
    assert stored.offsets == {f"{TOPIC}:0": 3}


def test_a_batch_without_duplicates_writes_each_profile_once() -> None:
    order: list[str] = []
    handle, _table, _ = _batch(order)
    asyncio.run(handle(_events("u1", 2) + _events("u2", 2, first_offset=2)))
    assert sorted(e for e in order if e.startswith("write")) == ["write u1", "write u2"]


def test_dead_letters_and_lists_are_all_sent_before_any_acknowledgement_is_awaited() -> None:
    """One broker round trip per batch: every record is enqueued, then the acknowledgements are
    awaited together, then the table is written (no send waits for an earlier one's ack)."""
    order: list[str] = []
    handle, _table, producer = _batch(order)
    bad = [FakeEvent(Message(TOPIC, 0, 10 + k, b"u9"), b"\xff not json") for k in range(2)]
    result = asyncio.run(handle(bad[:1] + _events("u1", 2) + _events("u2", 2, 2) + bad[1:]))
    dlq = f"{TOPIC}-dlq"
    sends = [e for e in order if e.startswith("send")]
    assert sends.count(f"send {dlq}") == 2 and sends.count("send recs") == len(result.lists) == 2
    first_ack = next(i for i, e in enumerate(order) if e.startswith("ack"))
    assert order[:first_ack] == sends, order  # every send precedes the first acknowledgement
    first_write = next(i for i, e in enumerate(order) if e.startswith("write"))
    assert len([e for e in order[:first_write] if e.startswith("ack")]) == 4, order
    assert [json.loads(v)["offset"] for t, _, v in producer.sent if t == dlq and v] == [10, 11]
