"""Events that reach the worker before their item's catalog record wait for it instead of being
dead-lettered: an item and an event on it produced in the same millisecond, an event that leads its
item by seconds (with the user's later events held behind it, and the partition's commit kept below
it), a worker killed while events wait, and an item that never comes (DLQ after the bound)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from streams.messages.records import BehaviourEvent, ItemRecord
from streams.worker.placement import user_partition
from tests.integration.pipeline_support import (
    Pipeline,
    Worker,
    event_bytes,
    item_bytes,
    producer,
    read_all,
    wait_for,
)
from tests.integration.reliability_support import T0, make_items

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

WAIT_S = 20  # DRIFTREC_ITEM_WAIT_S of the worker


def _committed(pipe: Pipeline, partition: int) -> int | None:
    s = pipe.settings
    consumer = KafkaConsumer(**pipe.kafka(), group_id=s.app_id, enable_auto_commit=False)
    try:
        return consumer.committed(TopicPartition(s.events_topic, partition))  # type: ignore[no-any-return]
    finally:
        consumer.close()


def _recent(worker: Worker, user: str) -> list[str]:
    profile = worker.profile(user)
    return [] if profile is None else [e["event_id"] for e in profile["recent"]]


def test_events_wait_for_their_item(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(
        kafka_bootstrap, tmp_path, tiny_encoder, extra_env={"DRIFTREC_ITEM_WAIT_S": str(WAIT_S)}
    )
    s = pipe.settings
    items = make_items(16)
    known = [i.item_id for i in items]
    pipe.create(items)
    prod = producer(pipe.kafka())
    clock = iter(range(10_000))

    def ev(user: str, item: str, tag: str) -> BehaviourEvent:
        return BehaviourEvent(f"{user}-{tag}", user, T0 + next(clock), "click", item)

    def put_event(e: BehaviourEvent, ts_ms: int | None = None) -> Any:
        key, value = event_bytes(e)
        return prod.send(s.events_topic, key=key, value=value, timestamp_ms=ts_ms)

    def put_item(item_id: str, ts_ms: int | None = None) -> None:
        key, value = item_bytes(ItemRecord(item_id=item_id, title=f"new {item_id} tea garden"))
        prod.send(s.items_topic, key=key, value=value, timestamp_ms=ts_ms)

    worker = pipe.worker()
    worker.start()
    try:
        worker.wait_ready()
        worker.wait_catalog(len(items))

        # 1. Ten new items, each with an event on it stamped the same millisecond (half of the
        #    events sent before their item, half after), behind 1,000 other new items that the
        #    catalog has to take in first.
        same = [ev(f"same{k}", f"new{k}", "0") for k in range(10)]
        now_ms = int(time.time() * 1000)
        for k in range(1000):
            put_item(f"bulk{k}", now_ms)
        for k, e in enumerate(same):
            if k % 2:
                put_event(e, now_ms)
                put_item(f"new{k}", now_ms)
            else:
                put_item(f"new{k}", now_ms)
                put_event(e, now_ms)
        prod.flush()

        # 2. An event that leads its item by seconds, the user's later events, other users' events
        #    on the same partition after it, and an event on an item that never comes.
        lead = "lead"
        part = user_partition(lead, s.partitions)
        others = [
            u for u in (f"o{n}" for n in range(200)) if user_partition(u, s.partitions) == part
        ]
        first = ev(lead, "late", "1")
        at = put_event(first).get(timeout=30)
        later = [ev(lead, known[n], str(n + 2)) for n in range(2)]
        neighbours = [ev(u, known[n], "n") for n, u in enumerate(others[:5])]
        never = [ev("never", "ghost", "1"), ev("never", known[0], "2")]
        for e in later + neighbours + never:
            put_event(e)
        prod.flush()
        wait_for(
            lambda: worker.all_applied([e.user_id for e in same], 1),
            60,
            "same-millisecond events applied",
            worker,
        )
        wait_for(
            lambda: worker.all_applied([e.user_id for e in neighbours], 1),
            60,
            "the neighbours applied",
            worker,
        )
        time.sleep(3 * s.commit_interval_s)  # commits happen meanwhile
        assert worker.events_applied(lead) == 0, "a later event overtook the held one"
        committed = _committed(pipe, part)
        assert committed is not None and committed <= at.offset, (committed, at.offset)
        assert worker.metric("driftrec_events_waiting_for_item") >= 3

        put_item("late")  # the item arrives: the lead's events are applied, in order
        prod.flush()
        wait_for(lambda: worker.events_applied(lead) == 3, 60, "the held events applied", worker)
        assert _recent(worker, lead) == [first.event_id] + [e.event_id for e in later]
        wait_for(lambda: (_committed(pipe, part) or 0) > at.offset, 30, "commit past it", worker)

        # 3. A worker killed while events wait: nothing was committed past them.
        crash = [ev("crash", "late2", "1"), ev("crash", known[3], "2")]
        for e in crash:
            put_event(e)
        prod.flush()
        wait_for(
            lambda: worker.metric("driftrec_events_waiting_for_item") >= 2,
            30,
            "crash events held",
            worker,
        )
        time.sleep(2 * s.commit_interval_s)
        assert worker.events_applied("crash") == 0
        worker.kill()
        worker.start()
        worker.wait_ready()
        put_item("late2")
        prod.flush()
        wait_for(
            lambda: worker.events_applied("crash") == 2, 90, "held events after a crash", worker
        )
        assert _recent(worker, "crash") == [e.event_id for e in crash]

        # 4. The item that never comes: dead-lettered after the bound; the next event goes on.
        wait_for(lambda: worker.events_applied("never") == 1, 3 * WAIT_S, "never's next", worker)
        assert _recent(worker, "never") == [never[1].event_id]
        assert worker.alive()
    finally:
        prod.close()
        worker.stop()

    dlq = [json.loads(m.value) for m in read_all(pipe.kafka(), s.dlq_topic(s.events_topic))]
    assert [(d["reason"], d["offset"]) for d in dlq] == [("unknown_item", dlq[0]["offset"])]
    assert "ghost" in dlq[0]["error"]
    print("\nitem wait: 10 same-ms events applied, a 3 s lead held in order, crash survived")
