"""Reading Kafka topics with a group-less kafka-python consumer: the one "read to the end" loop.

The trainer reads the catalog and the event log to the end offsets it took, the registry reads
its topic to the end at start-up, the worker's hole filler reads a skipped range again: each
assigns and seeks its consumer itself, then lets :func:`read_to_end` poll. :func:`reader` is the
consumer the commands and the trainer read with (no group, nothing committed), and
:func:`assign_all` assigns it every partition of a topic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.errors import StreamsError
from streams.settings import Settings


def reader(settings: Settings, **extra: Any) -> KafkaConsumer:
    """A consumer in no group that commits nothing (``extra``: further kafka-python options)."""
    return KafkaConsumer(
        **settings.kafka_python_config(), enable_auto_commit=False, group_id=None, **extra
    )


def assign_all(consumer: KafkaConsumer, topic: str, what: str) -> list[TopicPartition]:
    """Assign ``consumer`` every partition of ``topic``; StreamsError ("``what`` topic ... does
    not exist") when the broker knows none."""
    parts = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    if not tps:
        raise StreamsError(f"{what} topic {topic!r} does not exist")
    consumer.assign(tps)
    return tps


def read_to_end(
    consumer: KafkaConsumer,
    ends: Mapping[TopicPartition, int],
    timeout_s: float,
    *,
    timeout_error: str | None = None,
    poll_ms: int = 500,
    max_records: int | None = None,
) -> Iterator[Any]:
    """Every record of ``ends``' partitions from the consumer's positions up to (not including)
    their end offset, as polled. A partition is done when its position reaches its end (a
    compacted topic moves the position past records that are gone). Raises StreamsError
    (``timeout_error``, or one naming the partitions left) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    todo = {tp for tp, end in ends.items() if consumer.position(tp) < end}
    while todo:
        if time.monotonic() > deadline:
            left = sorted(str(tp) for tp in todo)
            raise StreamsError(timeout_error or f"reading {left} timed out")
        for tp, records in consumer.poll(timeout_ms=poll_ms, max_records=max_records).items():
            for m in records:
                if m.offset < ends[tp]:
                    yield m
            if consumer.position(tp) >= ends[tp]:
                todo.discard(tp)
