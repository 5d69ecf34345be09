"""Ranking metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from encoders.evaluation.ranking import (
    RankAccumulator,
    metrics_from_ranks,
    ranking_metrics,
    target_ranks,
)


def test_ranks_by_hand() -> None:
    scores = np.array(
        [
            [0.9, 0.1, 0.5, 0.3],  # target 2 (0.5): only 0.9 above -> rank 2
            [0.1, 0.2, 0.3, 0.4],  # target 0 (0.1): last of 4 -> rank 4
            [0.7, 0.2, 0.1, 0.0],  # target 0: first -> rank 1
        ]
    )
    assert target_ranks(scores, [2, 0, 0]).tolist() == [2, 4, 1]


def test_history_is_masked_but_the_target_never_is() -> None:
    scores = np.array([[0.9, 0.1, 0.5, 0.3], [0.9, 0.8, 0.7, 0.6]])
    # user 0: item 0 (0.9) masked -> target 2 is first. user 1: history holds the target itself
    # (a repeat) and item 0 -> item 1 still beats it -> rank 2.
    assert target_ranks(scores, [2, 2], exclude=[[0], [0, 2]]).tolist() == [1, 2]


def test_ties_are_pessimistic() -> None:
    scores = np.zeros((2, 5))
    assert target_ranks(scores, [0, 4]).tolist() == [5, 5]
    tied = np.array([[0.5, 0.5, 0.2]])
    assert target_ranks(tied, [1]).tolist() == [2]
    assert target_ranks(tied, [0]).tolist() == [2]


def test_metrics_by_hand() -> None:
    ranks = np.array([1, 2, 4, 30])
    m = metrics_from_ranks(ranks, ks=(1, 3, 10))
    assert m["HR@1"] == pytest.approx(1 / 4)
    assert m["HR@3"] == pytest.approx(2 / 4)
    assert m["HR@10"] == pytest.approx(3 / 4)
    assert m["NDCG@1"] == pytest.approx(1 / 4)
    assert m["NDCG@3"] == pytest.approx((1 + 1 / math.log2(3)) / 4)
    assert m["NDCG@10"] == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(5)) / 4)
    assert m["MRR@3"] == pytest.approx((1 + 1 / 2) / 4)
    assert m["MRR@10"] == pytest.approx((1 + 1 / 2 + 1 / 4) / 4)


def test_ranking_metrics_end_to_end_with_torch_input() -> None:
    scores = torch.tensor([[0.1, 0.9, 0.4], [0.3, 0.2, 0.1]])
    m = ranking_metrics(scores, torch.tensor([2, 2]), exclude=[[1], []], ks=(1, 5))
    # user 0: 0.9 masked -> target 0.4 rank 1; user 1: target lowest of 3 -> rank 3.
    assert m["HR@1"] == pytest.approx(0.5)
    assert m["NDCG@5"] == pytest.approx((1 + 1 / 2) / 2)
    assert m["MRR@5"] == pytest.approx((1 + 1 / 3) / 2)


def test_accumulator_matches_one_shot() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(10, 50))
    targets = rng.integers(0, 50, size=10)
    acc = RankAccumulator(ks=(5, 10))
    acc.add(scores[:4], targets[:4])
    acc.add(scores[4:], targets[4:])
    assert acc.count == 10
    assert acc.result() == ranking_metrics(scores, targets, ks=(5, 10))


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        target_ranks(np.array([[np.nan, 1.0]]), [0])
    with pytest.raises(ValueError, match="targets"):
        target_ranks(np.zeros((2, 3)), [0])
    with pytest.raises(ValueError, match="target indices"):
        target_ranks(np.zeros((1, 3)), [3])
    with pytest.raises(ValueError, match="K must be"):
        metrics_from_ranks(np.array([1]), ks=(0,))
    assert metrics_from_ranks(np.zeros(0, dtype=np.int64), ks=(10,))["HR@10"] == 0.0
