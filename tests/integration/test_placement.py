"""The worker owns placement: a user's events produced by driftrec's producer (murmur2), by a
librdkafka client (confluent-kafka, CRC32 by default) and without a key all end in ONE profile,
applied once each and in order, with one cold_start list, and the HTTP views answer for the user.
A second forwarded copy of one original (what a crash between forwarding and committing leaves)
is skipped even after the event has left the recent-event window."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from streams.messages.records import BehaviourEvent
from streams.worker.placement import PLACED_HEADER, user_partition
from tests.integration.pipeline_support import Pipeline, event_bytes, read_all, send, wait_for
from tests.integration.reliability_support import T0, make_items

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

confluent_kafka = pytest.importorskip("confluent_kafka")


def _user(partitions: int) -> str:
    """A user whose CRC32 partition (librdkafka's default) is not its murmur2 one."""
    for n in range(1000):
        user = f"mixed-{n}"
        if zlib.crc32(user.encode()) % partitions != user_partition(user, partitions):
            return user
    raise AssertionError("no such user")


class Librdkafka:
    """A confluent-kafka producer with its default partitioner; remembers where records landed."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        self.landed: list[int] = []
        self.errors: list[Any] = []

    def _report(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(err)
        else:
            self.landed.append(msg.partition())

    def send(self, topic: str, key: bytes | None, value: bytes, **kw: Any) -> None:
        self.producer.produce(topic, value=value, key=key, on_delivery=self._report, **kw)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0, "confluent-kafka could not deliver"
        assert not self.errors, self.errors


def test_events_of_one_user_from_any_client_and_without_key_make_one_profile(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(16)
    user = _user(s.partitions)
    home = user_partition(user, s.partitions)
    wrong = (home + 1) % s.partitions

    def ev(n: int) -> BehaviourEvent:
        return BehaviourEvent(f"{user}-{n}", user, T0 + n, "click", items[n % len(items)].item_id)

    pipe.create(items)
    worker = pipe.worker()
    worker.start()
    try:
        worker.wait_catalog(len(items))
        # 1. driftrec's producer (kafka-python, murmur2): the user's own partition.
        send(pipe.kafka(), s.events_topic, [event_bytes(ev(n)) for n in range(3)])
        wait_for(lambda: worker.events_applied(user) == 3, 120, "3 events applied", worker)
        # 2. confluent-kafka, keyed, default partitioner: CRC32 puts them on another partition.
        rd = Librdkafka(kafka_bootstrap)
        for n in range(3, 7):
            rd.send(s.events_topic, *event_bytes(ev(n)))
        rd.flush()
        assert set(rd.landed) == {zlib.crc32(user.encode()) % s.partitions} != {home}
        wait_for(lambda: worker.events_applied(user) == 7, 120, "7 events applied", worker)
        # 3. confluent-kafka without a key, on another partition than the user's.
        rd.landed.clear()
        for n in range(7, 10):
            rd.send(s.events_topic, None, event_bytes(ev(n))[1], partition=wrong)
        rd.flush()
        assert rd.landed == [wrong] * 3
        wait_for(lambda: worker.events_applied(user) == 10, 120, "10 events applied", worker)

        profile = worker.profile(user)
        assert profile is not None
        assert [e["event_id"] for e in profile["recent"]] == [ev(n).event_id for n in range(10)]
        status, rec = worker.get(f"/users/{user}/recommendations")
        assert status == 200 and rec["user_id"] == user and rec["items"]
        assert worker.metric("driftrec_events_forwarded_total") == 7

        # 4. A second copy of a forwarded original (a crash between the copy's acknowledgement
        # and the original's commit forwards it again), arriving after 21 more events of the user
        # have pushed the event out of the 20-event window: skipped by its original's offset.
        copies = [
            m
            for m in read_all(pipe.kafka(), s.events_topic)
            if m.partition == home and any(h[0] == PLACED_HEADER for h in m.headers or ())
        ]
        assert len(copies) == 7 and all(m.key == user.encode() for m in copies)
        first = copies[0]
        send(pipe.kafka(), s.events_topic, [event_bytes(ev(n)) for n in range(10, 31)])
        rd.send(s.events_topic, first.key, first.value, partition=home, headers=list(first.headers))
        rd.flush()
        send(pipe.kafka(), s.events_topic, [event_bytes(ev(31))])
        wait_for(lambda: worker.events_applied(user) == 32, 120, "32 events applied", worker)
        wait_for(
            lambda: worker.metric("driftrec_events_skipped_duplicate_total") >= 1,
            30,
            "the second copy skipped",
            worker,
        )
        profile = worker.profile(user)
        assert profile is not None and profile["events_applied"] == 32
        assert profile["last_event_id"] == ev(31).event_id
        assert worker.alive()
    finally:
        worker.stop()

    lists = [json.loads(m.value) for m in read_all(pipe.kafka(), s.recommendations_topic)]
    mine = [r for r in lists if r["user_id"] == user]
    assert [r["trigger"] for r in mine].count("cold_start") == 1, mine
    assert not read_all(pipe.kafka(), s.dlq_topic(s.events_topic)), "nothing dead-lettered"
    print(f"\nplacement: {user} (home {home}): 3 murmur2 + 4 CRC32 + 3 keyless -> one profile")
