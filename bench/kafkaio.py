"""Kafka plumbing of the benchmarks: a real broker, topics, bulk and paced producers, readers.

The broker is the project's own local Kafka (``ops.localkafka.launcher``) started on free ports in a
temporary folder, exactly like the test fixture, unless a running broker is named explicitly.
Producers and readers use kafka-python in the benchmark process; workers run in subprocesses.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from bench.errors import BenchError
from ops.localkafka.launcher import LocalBroker, free_port, metadata_ok
from streams.kafkaadmin import ClosingAdminClient
from streams.settings import Settings


@dataclass(frozen=True)
class Broker:
    """A broker the benchmarks may use: its address, and its version when we started it."""

    bootstrap: str
    version: str | None
    started_here: bool


@contextlib.contextmanager
def bench_broker(settings: Settings, bootstrap: str | None = None) -> Iterator[Broker]:
    """The broker at ``bootstrap`` when given (it must answer), else a private one for the block."""
    if bootstrap:
        if not metadata_ok(bootstrap):
            raise BenchError(
                f"no Kafka broker answers at {bootstrap}; start one (`driftrec kafka start`) or "
                "leave --bootstrap-servers unset so the benchmark starts its own"
            )
        yield Broker(bootstrap=bootstrap, version=None, started_here=False)
        return
    with tempfile.TemporaryDirectory(prefix="driftrec-bench-kafka-") as tmp:
        broker = LocalBroker(
            settings.kafka_dir,
            port=free_port(),
            controller_port=free_port(),
            runtime_dir=Path(tmp),
            heap=settings.kafka_heap,
        )
        info = broker.start(timeout_s=settings.kafka_start_timeout_s)
        try:
            yield Broker(bootstrap=broker.bootstrap, version=info.version, started_here=True)
        finally:
            broker.stop()


def create_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    """Create topics (one replica) and wait until their metadata is visible."""
    names = list(names)
    admin = ClosingAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
        )
        deadline = time.monotonic() + 30
        while not set(names) <= set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise BenchError(f"topics {names} did not appear on {bootstrap} within 30 s")
            time.sleep(0.1)
    finally:
        admin.close()


def make_producer(bootstrap: str, linger_ms: int = 5) -> KafkaProducer:
    """A kafka-python producer batching for throughput (the load generator, not the system)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=linger_ms,
        batch_size=256 * 1024,
        acks=1,
    )


def produce_all(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]], linger_ms: int = 5
) -> int:
    """Produce ``(key, value)`` pairs as fast as possible; return how many were acknowledged."""
    producer = make_producer(bootstrap, linger_ms)
    count = 0
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
            count += 1
        producer.flush(timeout=120)
    finally:
        producer.close()
    return count


def produce_paced(
    bootstrap: str,
    topic: str,
    make: Callable[[int, float], tuple[bytes, bytes]],
    rate: float,
    seconds: float,
) -> int:
    """Offer ``rate`` messages/s for ``seconds``; ``make(i, now)`` builds message i at send time.

    Messages are sent when due on a fixed schedule (open loop: a slow consumer does not slow the
    offered load), in small bursts each loop; returns the number sent.
    """
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"rate and seconds must be positive, got {rate}, {seconds}")
    producer = make_producer(bootstrap, linger_ms=0)
    total = int(rate * seconds)
    sent = 0
    try:
        start = time.monotonic()
        while sent < total:
            due = min(total, int((time.monotonic() - start) * rate) + 1)
            while sent < due:
                key, value = make(sent, time.time())
                producer.send(topic, key=key, value=value)
                sent += 1
            # Sleep until the next message is due (at least a scheduler tick).
            next_at = start + sent / rate
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        producer.flush(timeout=60)
    finally:
        producer.close()
    return sent


@dataclass(frozen=True)
class Received:
    """One message read back: its broker timestamp (ms, the producer's create time) and bytes."""

    timestamp_ms: int
    key: bytes | None
    value: bytes


def read_topic(bootstrap: str, topic: str, expect: int, timeout_s: float = 60.0) -> list[Received]:
    """Read a topic from the beginning until ``expect`` messages or the deadline."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = _partitions(consumer, topic)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got: list[Received] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < expect and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200, max_records=10_000).values():
                got.extend(Received(r.timestamp, r.key, r.value) for r in records)
        return got
    finally:
        consumer.close()


class TopicReader:
    """Reads a topic from the beginning, incrementally: each :meth:`read_until` call returns only
    what arrived since the last one (cheaper than re-reading a growing topic)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        tps = _partitions(self._consumer, topic)
        self._consumer.assign(tps)
        self._consumer.seek_to_beginning(*tps)
        self.count = 0

    def read_until(self, total: int, timeout_s: float = 60.0) -> list[Received]:
        """New messages until ``total`` have been read in all (or the deadline)."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout_s
        while self.count < total and time.monotonic() < deadline:
            for records in self._consumer.poll(timeout_ms=200, max_records=10_000).values():
                got.extend(Received(r.timestamp, r.key, r.value) for r in records)
                self.count += len(records)
        return got

    def close(self) -> None:
        self._consumer.close()


def _partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    deadline = time.monotonic() + 30
    while not (parts := consumer.partitions_for_topic(topic)):
        if time.monotonic() > deadline:
            raise BenchError(f"topic {topic} has no partitions")
        time.sleep(0.2)
    return [TopicPartition(topic, p) for p in sorted(parts)]


def wait_for_count(
    bootstrap: str,
    topic: str,
    expect: int,
    timeout_s: float,
    *,
    idle_s: float | None = None,
    on_poll: Callable[[int], None] | None = None,
    poll_s: float = 0.5,
) -> int:
    """Wait until ``topic`` holds ``expect`` messages (sum of end offsets; topics start empty).

    Polling end offsets instead of consuming keeps the benchmark process nearly idle while the
    worker runs. Returns early after ``idle_s`` without growth (once something arrived), and at
    the deadline; returns the count reached. ``on_poll(count)`` runs every poll (e.g. to check
    that the worker is alive, or to sample its memory) and may raise.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = _partitions(consumer, topic)
        deadline = time.monotonic() + timeout_s
        count, last_growth = 0, time.monotonic()
        while True:
            new = sum(consumer.end_offsets(tps).values())
            if new > count:
                count, last_growth = new, time.monotonic()
            if on_poll is not None:
                on_poll(count)
            if count >= expect or time.monotonic() > deadline:
                return count
            if idle_s is not None and count and time.monotonic() - last_growth > idle_s:
                return count
            time.sleep(poll_s)
    finally:
        consumer.close()


def group_members(bootstrap: str, group: str, topic: str) -> int:
    """Members of a stable consumer group holding at least one partition of ``topic``."""
    admin = ClosingAdminClient(bootstrap_servers=bootstrap)
    try:
        info = admin.describe_groups([group]).get(group, {})
    except Exception:  # a group not there yet reads as "no members"
        return 0
    finally:
        admin.close()
    if info.get("group_state") != "Stable":
        return 0
    holding = 0
    for member in info.get("members", []):
        assigned = (member.get("member_assignment") or {}).get("assigned_partitions", [])
        if any(a.get("topic") == topic and a.get("partitions") for a in assigned):
            holding += 1
    return holding
