"""Reading assigned Kafka partitions up to given end offsets: the one "read to the end" loop.

The trainer reads the catalog and the event log to the end offsets it took, the registry reads
its topic to the end at start-up, the worker's hole filler reads a skipped range again: each
assigns and seeks its consumer itself, then lets :func:`read_to_end` poll.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.errors import StreamsError


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
