"""The 95 % Student-t interval over seeds (``driftrec eval --seeds``, bench/seedtable.py)."""

from __future__ import annotations

import math
import statistics

import pytest

from bench.seedtable import rows
from encoders.evaluation.intervals import fmt, interval, summarise, t95


def test_interval_by_hand() -> None:
    mean, half = interval([1.0, 2.0, 3.0])  # sd 1, n 3, t(0.975, 2) = 4.303
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(4.303 / math.sqrt(3))
    mean, half = interval([0.10, 0.14])  # sd = 0.04 / sqrt(2), t(0.975, 1) = 12.706
    assert half == pytest.approx(12.706 * (0.04 / math.sqrt(2)) / math.sqrt(2))


def test_one_value_has_no_interval_and_no_value_is_an_error() -> None:
    assert interval([0.25]) == (0.25, 0.0)
    with pytest.raises(ValueError):
        interval([])


def test_t_quantiles_between_table_rows_are_conservative() -> None:
    assert t95(2) == 4.303
    assert t95(12) == 2.228  # df 12 is not tabulated: the wider df-10 quantile
    assert t95(31) == 1.96
    with pytest.raises(ValueError):
        t95(0)


def test_summary_and_format() -> None:
    s = summarise([0.1, 0.2, 0.3])
    assert s["values"] == [0.1, 0.2, 0.3] and s["n"] == 3
    assert s["mean"] == pytest.approx(0.2)
    assert s["half_width"] == pytest.approx(4.303 * 0.1 / math.sqrt(3))
    assert fmt(s["mean"], s["half_width"], s["n"]) == "0.2000 ± 0.2484"
    assert fmt(0.5, 0.0, 1) == "0.5000"


def test_seedtable_uses_the_same_interval() -> None:
    docs = [{"models": {"m": {"NDCG@10": v}}} for v in (1.0, 2.0, 3.0)]
    assert rows(docs, ["NDCG@10"]) == ["| m | 2.0000 ± 2.4843 | 3 |"]


def test_seedtable_reads_seeds_documents_and_protocols() -> None:
    single = {"models": {"m": {"NDCG@10": 9.0, "by_protocol": {"unmasked": {"NDCG@10": 1.0}}}}}
    seeds = {
        "models": {
            "m": {"by_protocol": {"unmasked": {"NDCG@10": {"values": [2.0, 3.0], "n": 2}}}},
            "k": {"by_protocol": {"unmasked": {"NDCG@10": {"values": [0.5], "n": 1}}}},
        }
    }
    assert rows([single, seeds], ["NDCG@10"], "unmasked") == [
        "| m | 2.0000 ± 2.4843 | 3 |",
        "| k | 0.5000 | 1 |",
    ]
    # without --protocol: a one-run file's top-level metric, a --seeds file's first protocol
    half = t95(2) * statistics.stdev([9.0, 2.0, 3.0]) / math.sqrt(3)
    assert rows([single, seeds], ["NDCG@10"])[0] == f"| m | {14 / 3:.4f} ± {half:.4f} | 3 |"
