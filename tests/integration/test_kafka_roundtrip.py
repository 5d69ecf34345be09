"""Produce and consume through the real broker with both Kafka clients driftrec uses."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from streams.kafkaadmin import ClosingAdminClient

pytestmark = pytest.mark.integration


def _create(bootstrap: str, topic: str, partitions: int = 2) -> None:
    admin = ClosingAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def test_kafka_python_roundtrip_keeps_keys_and_order(
    kafka_bootstrap: str, unique_topic: str
) -> None:
    _create(kafka_bootstrap, unique_topic)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    sent = [(f"user-{i % 3}".encode(), f"event-{i}".encode()) for i in range(30)]
    for key, value in sent:
        producer.send(unique_topic, key=key, value=value)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        unique_topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15_000,  # reached only if messages go missing
        group_id=f"g-{unique_topic}",
    )
    got = []
    for m in consumer:
        got.append((m.key, m.value, m.partition))
        if len(got) == len(sent):
            break
    consumer.close()

    assert sorted((k, v) for k, v, _ in got) == sorted(sent)
    # One key, one partition, and per-key order preserved.
    for key in {k for k, _ in sent}:
        assert len({p for k, _, p in got if k == key}) == 1
        assert [v for k, v, _ in got if k == key] == [v for k, v in sent if k == key]


def test_aiokafka_roundtrip_with_group_commit(kafka_bootstrap: str, unique_topic: str) -> None:
    _create(kafka_bootstrap, unique_topic)

    async def run() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(unique_topic, f"m{i}".encode(), key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            unique_topic,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=f"g-{unique_topic}",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            values: list[bytes] = []
            while len(values) < 10:
                msg = await asyncio.wait_for(consumer.getone(), timeout=15)
                values.append(msg.value)
            await consumer.commit()
            return values
        finally:
            await consumer.stop()

    assert asyncio.run(run()) == [f"m{i}".encode() for i in range(10)]
