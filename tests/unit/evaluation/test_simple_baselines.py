"""Co-occurrence kNN and repeat/recency against hand-computed scores; both protocols at once."""

from __future__ import annotations

import numpy as np
import pytest

from encoders.data.split import leave_last_out
from encoders.evaluation.base import ItemIndex
from encoders.evaluation.offline import evaluate_offline, replay_histories
from encoders.evaluation.simple import TIE_BREAK, CoocKNN, RepeatRecency
from streams.messages.records import BehaviourEvent, ItemRecord

T0 = 1_700_000_000.0
CATALOG = ItemIndex([ItemRecord(item_id=i, title=f"item {i}") for i in "abcde"])


def _events(user: str, items: str, t0: float = T0) -> list[BehaviourEvent]:
    return [
        BehaviourEvent(f"{user}-{k}", user, t0 + 60 * k, "purchase", item)
        for k, item in enumerate(items)
    ]


def test_cooc_knn_scores_by_hand() -> None:
    # one training sequence a b c, window 2: pairs (a,b) 1, (b,c) 1, (a,c) 1/2, both directions;
    # counts 1 each, so sim = the pair weight. Last items (newest first) c, b; weights 1, 0.5.
    train = _events("u", "abc")
    model = CoocKNN(CATALOG, train, window=2, top_k=3, n_last=2, decay=0.5)
    assert model.sim[0].tolist() == [1.0, 0.5, 0.0]  # a: b, then c, then nothing
    assert model.nbr[0, :2].tolist() == [1, 2]
    states = replay_histories(model, [_events("x", "bc")])
    scores = model.scores(model.interest(states))[0]
    pop = np.array([1, 1, 1, 0, 0], dtype=np.float32)  # a, b, c once in training
    expected = np.array([0.5 + 0.5 * 1.0, 1.0, 0.5 * 1.0, 0.0, 0.0]) + TIE_BREAK * pop
    # a: c->a 0.5 (weight 1) + b->a 1.0 (weight 0.5); b: c->b 1.0; c: b->c 1.0 x 0.5
    np.testing.assert_allclose(scores, expected, rtol=1e-6)


def test_cooc_knn_keeps_the_strongest_neighbours_only() -> None:
    train = _events("u", "abcde") + _events("v", "ab", T0 + 1)
    model = CoocKNN(CATALOG, train, window=4, top_k=1)
    assert model.nbr[0, 0] == 1  # a's strongest neighbour is b (adjacent twice)
    assert model.nbr.shape == (5, 1)


def test_repeat_ranks_own_items_by_recency_weighted_frequency() -> None:
    model = RepeatRecency(CATALOG, _events("u", "e"), window=4, decay=0.5)
    states = replay_histories(model, [_events("x", "aabc")])  # ages: c 0, b 1, a 2 and 3
    scores = model.scores(model.interest(states))[0]
    pop = np.array([0, 0, 0, 0, 1], dtype=np.float32)
    np.testing.assert_allclose(
        scores, np.array([0.25 + 0.125, 0.5, 1.0, 0.0, 0.0]) + TIE_BREAK * pop, rtol=1e-6
    )
    assert np.argsort(-scores).tolist()[:4] == [2, 1, 0, 4]  # unseen items: by popularity


def test_repeat_wins_unmasked_and_falls_back_masked() -> None:
    # u buys b, b, a, a, a: valid target a, test target a (repeats). Test history b b a a:
    # a scores 1 + 0.98, b 0.96 + 0.94.
    split = leave_last_out(_events("u", "bbaaa") + _events("v", "cd", T0 + 5))
    model = RepeatRecency(CATALOG, split.train_events())
    result = evaluate_offline(model, split, CATALOG, ks=(1,), protocols=("unmasked", "masked"))
    assert result.by_protocol["unmasked"]["HR@1"] == 1.0  # a is the most recent-frequent
    # masked = new-item targets only: a repeat target is not scored (it would be the one history
    # item left unmasked, a free hit)
    assert result.ranks_by_protocol["masked"].tolist() == [0]
    assert (
        result.by_protocol["masked"]["users"] == 0 and result.by_protocol["unmasked"]["users"] == 1
    )
    valid = evaluate_offline(model, split, CATALOG, stage="valid", ks=(1,), mask_history=False)
    assert valid.ranks.tolist() == [2]  # history b b a: b (0.98 + 0.96) beats a (1)
    assert result.metrics == result.by_protocol["unmasked"]  # the first protocol is primary
    fresh = leave_last_out(_events("w", "aabc"))  # test target c is new: scored when masked
    masked = evaluate_offline(model, fresh, CATALOG, ks=(1,), protocols=("masked",))
    assert masked.by_protocol["masked"]["users"] == 1 and masked.ranks.tolist() == [2]


def test_bad_protocol_is_an_error() -> None:
    split = leave_last_out(_events("u", "abca"))
    model = RepeatRecency(CATALOG, split.train_events())
    with pytest.raises(ValueError, match="protocols"):
        evaluate_offline(model, split, CATALOG, protocols=("sometimes",))
