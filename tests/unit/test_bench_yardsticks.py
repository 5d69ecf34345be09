"""Kafka performance tool output parsing, ratio/spread/target logic and the capacity arithmetic.

Logic only: no broker, no timing (the bench measures; tests check how figures are read and judged).
"""

from __future__ import annotations

import math

import pytest

from bench.errors import BenchError
from bench.kafkaperf import parse_consumer, parse_producer
from bench.scaleout import capacity
from bench.verdicts import Goal, judge, ratio_runs, spread, verdict_text

# Captured from Kafka 4.4.0's tools on the build machine (progress line kept: it is ignored).
PRODUCER_OUT = """\
Option --producer-props has been deprecated and will be removed in a future version.
31210 records sent, 6242.0 records/sec (1.79 MB/sec), 1290.3 ms avg latency, 2220.0 ms max latency.
50000 records sent, 12106.537530 records/sec (3.46 MB/sec), 80.08 ms avg latency, \
2220.00 ms max latency, 66 ms 50th, 213 ms 95th, 295 ms 99th, 411 ms 99.9th.
"""
CONSUMER_OUT = """\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-12-03 13:34:29:001, 2026-12-03 13:34:32:242, 14.3051, 4.4138, 50000, 15427.3372, 2039, \
1202, 11.9011, 41597.3378
"""


def test_producer_summary_line_is_parsed_and_progress_lines_ignored() -> None:
    run = parse_producer(PRODUCER_OUT)
    assert run.tool == "producer" and run.records == 50_000
    assert run.records_per_s == pytest.approx(12106.53753)
    assert run.mb_per_s == pytest.approx(3.46)
    assert run.extra["p99_latency_ms"] == 295.0 and run.extra["p50_latency_ms"] == 66.0


def test_consumer_csv_row_is_parsed_with_the_fetch_rate() -> None:
    run = parse_consumer(CONSUMER_OUT)
    assert run.tool == "consumer" and run.records == 50_000
    assert run.records_per_s == pytest.approx(41597.3378)  # fetch.nMsg.sec, join excluded
    assert run.mb_per_s == pytest.approx(11.9011)
    assert run.extra["overall_records_per_s"] == pytest.approx(15427.3372)
    assert run.extra["rebalance_ms"] == 2039.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "50000 records sent, 12106.5 records/sec (3.46 MB/sec), 80.1 ms avg latency, "
        "2220.0 ms max latency.",  # a progress line only: the run did not finish
    ],
)
def test_producer_output_without_a_summary_is_an_error(text: str) -> None:
    with pytest.raises(BenchError, match="no ProducerPerformance summary"):
        parse_producer(text)


def test_consumer_output_without_records_or_row_is_an_error() -> None:
    header = CONSUMER_OUT.splitlines()[0]
    with pytest.raises(BenchError, match="no ConsumerPerformance summary"):
        parse_consumer(header)
    empty_row = (
        header + "\n2026-12-03 13:34:29:001, 2026-12-03 13:34:39:001, 0, 0, 0, 0, 0, 0, 0, 0"
    )
    with pytest.raises(BenchError, match="read no records"):
        parse_consumer(empty_row)


def test_ratios_are_per_round_and_skip_rounds_missing_a_side() -> None:
    runs = [{"a": 2.0, "b": 4.0}, {"a": 3.0, "b": 3.0}, {"a": 1.0}]
    assert ratio_runs(runs, "a", "b") == [0.5, 1.0]
    with pytest.raises(ValueError, match="is 0"):
        ratio_runs([{"a": 1.0, "b": 0.0}], "a", "b")
    sp = spread([0.5, 1.0, 0.7])
    assert (sp["min"], sp["median"], sp["max"], sp["runs"]) == (0.5, 0.7, 1.0, 3)
    assert sp["values"] == [0.5, 1.0, 0.7]


def test_a_target_is_met_only_when_every_run_meets_it() -> None:
    goal = Goal(">=", 0.9, "x")
    assert judge("t", goal, [0.95, 0.91, 1.2])["met"] is True
    straddle = judge("t", goal, [0.95, 0.89, 1.2])  # median 0.95 meets it, one run does not
    assert straddle["met"] is False and straddle["straddles"] is True
    assert straddle["median"] == 0.95
    assert verdict_text(straddle) == "not met (runs straddle the goal)"
    below = judge("t", goal, [0.5, 0.6])
    assert below["met"] is False and below["straddles"] is False
    assert verdict_text(below) == "not met"
    assert judge("t", goal, [0.9])["met"] is True  # the boundary counts for >=
    assert judge("t", Goal("<", 50.0, " ms"), [50.0])["met"] is False  # and not for <
    assert judge("t", Goal("<=", 2048.0), [2048.0])["met"] is True
    none = judge("t", goal, None)
    assert none["met"] is None and verdict_text(none) == "not measured"
    assert Goal("<=", 2.0, "x").text() == "<= 2x"
    with pytest.raises(ValueError, match="unknown comparison"):
        Goal("~", 1.0)


def test_capacity_arithmetic_from_measured_figures() -> None:
    report = {
        "scale_out": {
            "partitions": 6,
            "cores": 2,
            "1": {"events_per_s": spread([800.0, 1000.0, 900.0])},
            "2": {"ratio_vs_one": spread([1.4, 1.5, 1.6])},
        },
        "storage": {
            "10000": {"bytes_per_profile": 1500.0},
            "100000": {"bytes_per_profile": 1480.0},
        },
    }
    c = capacity(report)
    assert c is not None
    assert c["events_per_s_per_worker"] == 900.0
    assert c["workers_needed_median"] == math.ceil(5000 / 900) == 6
    assert c["workers_needed_slowest_run"] == math.ceil(5000 / 800) == 7
    assert c["partitions_needed_median"] == 6
    assert c["users_per_worker_median"] == math.ceil(10_000_000 / 6)
    assert c["rocksdb_bytes_per_user"] == 1480.0  # the largest user count's figure
    assert c["rocksdb_bytes_total"] == 10_000_000 * 1480.0
    assert c["measured_scaling_vs_one"] == {"2": 1.5}
    assert capacity({}) is None
