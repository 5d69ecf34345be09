"""Faust's acknowledgement of a message it skipped during a rebalance must not move the commit."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from intervaltree import IntervalTree

from streams.faustcompat import acks
from streams.faustcompat.acks import ack_processed_only


class Msg:
    def __init__(self, offset: int, tracked: bool) -> None:
        self.tp = TP("events", 0)
        self.topic, self.partition, self.offset = "events", 0, offset
        self.tracked, self.acked = tracked, False


@pytest.fixture
def consumer() -> Any:
    """Faust's consumer bookkeeping without a client, an app or an event loop."""
    c = object.__new__(AIOKafkaConsumer)  # the concrete class the worker runs
    c.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
    c._committed_offset = defaultdict(lambda: None)
    c._acked = defaultdict(list)
    c._acked_index = defaultdict(set)
    c._gap = defaultdict(IntervalTree)
    c._unacked_messages = set()
    c._n_acked = 0
    c._waiting_for_ack = None
    acks.install()
    assert AIOKafkaConsumer.ack is ack_processed_only
    return c


def test_a_skipped_message_is_not_committable(consumer: Any) -> None:
    processed = [Msg(o, tracked=True) for o in (10, 11)]
    skipped = [Msg(o, tracked=False) for o in (12, 13, 14)]
    late = Msg(15, tracked=True)  # processed after the skipped ones were dropped
    assert all(consumer.ack(m) for m in processed)
    assert not any(consumer.ack(m) for m in skipped)
    assert all(m.acked for m in skipped)
    consumer.ack(late)
    tp = TP("events", 0)
    assert consumer._new_offset(tp) == 12, "the commit stops before the first skipped offset"


def test_unpatched_faust_commits_past_skipped_messages(consumer: Any) -> None:
    """Documents the bug the patch removes (fails if Faust ever fixes it: then drop the patch)."""
    for offset in (10, 11, 12, 13, 14):
        m = Msg(offset, tracked=offset < 12)
        acks._original_ack(consumer, m)
    assert consumer._new_offset(TP("events", 0)) == 15


def test_install_is_idempotent() -> None:
    acks.install()
    acks.install()
    assert Consumer.ack is ack_processed_only
