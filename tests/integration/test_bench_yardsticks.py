"""The benchmark's yardsticks on the real broker: Kafka's perf tools and both pass-throughs answer.

Counts only (every record produced is read back, every event gets its one output): the rates
themselves are what `driftrec bench` measures, never what a test asserts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import kafkaperf
from bench.events import encode_event, make_events
from bench.kafkaio import create_topics
from bench.pipeline import Session, event_maker
from bench.targets import Passthrough, RawPassthrough, Target
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_kafka_perf_tools_write_and_read_back_every_record(
    kafka_bootstrap: str, unique_topic: str
) -> None:
    classpath = kafkaperf.tools_classpath(Settings().kafka_dir)
    create_topics(kafka_bootstrap, [unique_topic], partitions=2)
    prod = kafkaperf.producer_perf(classpath, kafka_bootstrap, unique_topic, 2_000, 120)
    assert prod.records == 2_000 and prod.records_per_s > 0 and prod.mb_per_s > 0
    cons = kafkaperf.consumer_perf(classpath, kafka_bootstrap, unique_topic, 2_000)
    assert cons.records == 2_000 and cons.records_per_s > 0


@pytest.mark.parametrize("target", [RawPassthrough(400), Passthrough(400)], ids=["raw", "faust"])
def test_pass_through_answers_each_event_once(
    kafka_bootstrap: str, tmp_path: Path, target: Target
) -> None:
    template = [encode_event(e) for e in make_events(50, 10, 20, seed=3, start_ts=1.8e9)]
    with Session(target, kafka_bootstrap, tmp_path, partitions=2, say=lambda _: None) as session:
        result = session.burst(event_maker(template), 120, timeout_s=120)
    assert result.outputs == 120
    assert result.extra["duplicates"] == 0
    assert result.out_bytes_mean == 400  # the output size driftrec's lists are matched with
