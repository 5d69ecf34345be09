"""A processing error on one valid event never loses another: the failing event is isolated and
dead-lettered with reason processing_error, every other event is applied exactly once; transient
failures are retried, never dead-lettered (streams.worker.agents.guard)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry

from encoders.serving import StepEvent
from profiles.profile import UserProfile
from streams.errors import TransientError
from streams.messages.records import BehaviourEvent
from streams.settings import Settings
from streams.worker.agents.batch import EventsBatch
from streams.worker.agents.guard import Backoff, is_transient
from streams.worker.metrics import Metrics
from streams.worker.runtime import Runtime
from tests.fakes import FakeModel, catalog
from tests.unit.test_batch_delivery import TOPIC, FakeEvent, Message

ITEMS = catalog({"tea": 4, "bad": 2})


class FaultyModel(FakeModel):
    """Raises on a step with a "bad-*" item; a TransientError for the first ``flaky`` steps."""

    def __init__(self, flaky: int = 0) -> None:
        super().__init__()
        self.flaky = flaky

    def step(
        self, states: np.ndarray, events: Sequence[StepEvent]
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.flaky > 0:
            self.flaky -= 1
            raise TransientError("model swap in progress")
        for e in events:
            if e.item is not None and e.item.item_id.startswith("bad-"):
                raise ValueError(f"cannot step on {e.item.item_id}")
        return super().step(states, events)


class Sink:
    """Records sends; the first ``fail`` sends to ``topic`` raise a retriable Kafka error."""

    def __init__(self, fail: int = 0, topic: str = "recs") -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.fail, self.topic = fail, topic

    async def __call__(self, topic: str, key: bytes, value: bytes | None) -> None:
        if topic == self.topic and self.fail > 0:
            self.fail -= 1
            raise KafkaConnectionError("broker hiccup")
        self.sent.append((topic, key, value))


def make(model: FakeModel, sink: Sink) -> tuple[EventsBatch, dict[bytes, bytes], Metrics]:
    settings = Settings(
        events_topic=TOPIC,
        recommendations_topic="recs",
        retry_initial_s=0.001,
        retry_max_s=0.002,
        watch_registry=False,  # no broker here: the configured (fake) model is the champion
    )
    metrics = Metrics(CollectorRegistry())
    runtime = Runtime(settings, metrics, loader=lambda s: model)  # type: ignore[arg-type,return-value]
    runtime.catalog_changed((i.item_id, i) for i in ITEMS)
    table: dict[bytes, bytes] = {}
    return EventsBatch(settings, runtime, metrics, table, sink), table, metrics


def stream(bad_at: set[int], users: int = 5, n: int = 30) -> list[FakeEvent]:
    """``n`` events round-robin over users on partition 0; those at ``bad_at`` use a bad item."""
    out = []
    for i in range(n):
        item = "bad-0" if i in bad_at else f"tea-{i % 4}"
        user = f"u{i % users}"
        ev = BehaviourEvent(f"e{i}", user, 1.7e9 + i, "click", item_id=item)
        out.append(
            FakeEvent(Message(TOPIC, 0, i, user.encode()), json.dumps(ev.to_json()).encode())
        )
    return out


def dead(sink: Sink) -> list[dict[str, Any]]:
    return [json.loads(v) for t, _, v in sink.sent if t == f"{TOPIC}-dlq" and v]


def clean_profiles(events: list[FakeEvent], bad_at: set[int]) -> dict[bytes, bytes]:
    handle, table, _ = make(FakeModel(), Sink())
    asyncio.run(handle([e for e in events if e.message.offset not in bad_at]))
    return table


@pytest.mark.parametrize(
    "bad_at",
    [{7}, {0, 29}, {3, 4, 5, 11, 12, 20}, {i for i in range(30) if i % 5 == 2}],
    ids=["one", "first-and-last", "several", "every-event-of-one-user"],
)
def test_failing_events_are_dead_lettered_and_the_rest_applied_once(bad_at: set[int]) -> None:
    events = stream(bad_at)
    sink = Sink()
    handle, table, metrics = make(FaultyModel(), sink)
    result = asyncio.run(handle(events))
    dlq = dead(sink)
    assert sorted(d["offset"] for d in dlq) == sorted(bad_at)
    assert {d["reason"] for d in dlq} == {"processing_error"}
    assert all(d["error"] == "ValueError: cannot step on bad-0" for d in dlq)
    assert result.applied == 30 - len(bad_at)
    # Exactly the profiles of a run that never saw the failing events: nothing lost, none twice.
    want = clean_profiles(events, bad_at)
    assert sorted(table) == sorted(want)
    for user, packed in want.items():
        assert UserProfile.from_bytes(table[user]) == UserProfile.from_bytes(packed), user
    assert metrics.dead_letters.labels(topic=TOPIC, reason="processing_error")._value.get() == len(
        bad_at
    )


def test_one_users_later_events_continue_from_the_earlier_ones() -> None:
    events = stream({2}, users=1, n=6)
    sink = Sink()
    handle, table, _ = make(FaultyModel(), sink)
    asyncio.run(handle(events))
    profile = UserProfile.from_bytes(table[b"u0"])
    assert [e.event_id for e in profile.recent] == ["e0", "e1", "e3", "e4", "e5"]
    assert profile.events_applied == 5 and profile.offsets == {f"{TOPIC}:0": 5}
    # Redelivered (a crash before the commit): nothing is applied twice, and the failing event,
    # below the offset the profile has reached, is not dead-lettered twice.
    again = asyncio.run(handle(events))
    assert again.applied == 0 and len(again.duplicates) == 6
    assert len(dead(sink)) == 1
    assert UserProfile.from_bytes(table[b"u0"]).events_applied == 5


def test_transient_failures_are_retried_never_dead_lettered() -> None:
    events = stream(set())
    sink = Sink(fail=2)  # two failed list sends as well
    handle, table, metrics = make(FaultyModel(flaky=3), sink)
    result = asyncio.run(handle(events))
    assert not dead(sink)
    assert result.applied == 30
    assert table == clean_profiles(events, set())
    retries = metrics.transient_retries
    assert retries.labels(stage="process")._value.get() == 3
    assert retries.labels(stage="publish")._value.get() >= 1
    # Every list reached the topic exactly once (only the failed sends were repeated).
    recs = [json.loads(v) for t, _, v in sink.sent if t == "recs" and v]
    assert len(recs) == len(result.lists)
    assert len({(r["user_id"], r["event_id"]) for r in recs}) == len(recs)


def test_transient_is_decided_by_exception_type() -> None:
    assert is_transient(TransientError("swap"))
    assert is_transient(KafkaConnectionError())
    assert is_transient(TimeoutError())
    assert is_transient(ConnectionResetError())
    assert not is_transient(ValueError("bad"))
    assert not is_transient(RuntimeError("bug"))
    assert not is_transient(UnicodeEncodeError("utf-8", "\udfff", 0, 1, "surrogate"))


def test_backoff_doubles_up_to_its_maximum() -> None:
    waited: list[float] = []

    async def sleep(s: float) -> None:
        waited.append(s)

    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 6:
            raise TimeoutError
        return "ok"

    backoff = Backoff(0.5, 3.0, sleep=sleep)
    assert asyncio.run(backoff.retry(flaky, "test")) == "ok"
    assert waited == [0.5, 1.0, 2.0, 3.0, 3.0]

    async def broken() -> None:
        raise ValueError("not transient")

    with pytest.raises(ValueError):
        asyncio.run(backoff.retry(broken, "test"))
