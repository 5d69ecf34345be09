"""Baselines, offline evaluation and streaming replay against hand-computed rankings."""

from __future__ import annotations

import numpy as np
import pytest

from encoders.data.split import leave_last_out
from encoders.evaluation.base import ItemIndex
from encoders.evaluation.baselines import ItemKNNText, Popularity, StaticProfile
from encoders.evaluation.offline import evaluate_offline, gaps_s, replay_histories
from encoders.evaluation.stream import replay_stream
from streams.messages.records import BehaviourEvent, ItemRecord

T0 = 1_700_000_000.0
# a=(1,0) b=(0,1) c=(.6,.8) d=(.8,.6): cosines are easy to do by hand
VECS = np.array([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
CATALOG = ItemIndex([ItemRecord(item_id=i, title=f"item {i}") for i in "abcd"])


def _events(user: str, items: str, t0: float = T0) -> list[BehaviourEvent]:
    return [
        BehaviourEvent(f"{user}-{k}", user, t0 + 60 * k, "view", item)
        for k, item in enumerate(items)
    ]


def test_static_profile_is_the_mean_of_history_vectors() -> None:
    model = StaticProfile(CATALOG, VECS, encode=None)
    states = replay_histories(model, [_events("u", "ab")])
    np.testing.assert_allclose(model.interest(states), [[0.5, 0.5]])
    np.testing.assert_allclose(model.scores(model.interest(states)), [[0.5, 0.5, 0.7, 0.7]])


def test_static_profile_encodes_free_text_of_searches() -> None:
    seen: list[list[str]] = []

    def encode(texts: object) -> np.ndarray:
        seen.append(list(texts))  # type: ignore[call-overload]
        return np.array([[0.0, 1.0]] * len(seen[-1]), dtype=np.float32)

    model = StaticProfile(CATALOG, VECS, encode=encode)
    search = BehaviourEvent("s", "u", T0 + 1, "search", text="blue things")
    states = replay_histories(model, [[_events("u", "a")[0], search]])
    assert seen == [["blue things"]]
    np.testing.assert_allclose(model.interest(states), [[0.5, 0.5]])


def test_itemknn_text_averages_the_last_items_only() -> None:
    model = ItemKNNText(CATALOG, VECS, n_last=2)
    states = replay_histories(model, [_events("u", "abd")])
    np.testing.assert_allclose(model.interest(states), [[0.4, 0.8]])  # mean of b and d
    one = ItemKNNText(CATALOG, VECS, n_last=1)
    scores = one.scores(one.interest(replay_histories(one, [_events("u", "ab")])))
    np.testing.assert_allclose(scores, [[0.0, 1.0, 0.8, 0.6]])


def test_popularity_counts_training_events() -> None:
    model = Popularity(CATALOG, _events("u", "aabd") + _events("v", "d"))
    scores = model.scores(model.interest(model.initial_states(2)))
    np.testing.assert_allclose(scores, [[2, 1, 0, 2]] * 2)


def test_offline_masking_changes_the_hand_computed_rank() -> None:
    # u: a b c | valid c | test d. History for test = a, b, c: mean (.533, .6).
    # d scores .787, c .8: unmasked, c beats d (rank 2); masked, d ranks first.
    split = leave_last_out(_events("u", "abcd") + _events("v", "ab", T0 + 5))
    assert split.user_ids() == ["u"] and split.skipped_users == 1
    model = StaticProfile(CATALOG, VECS, encode=None)
    masked = evaluate_offline(model, split, CATALOG, ks=(1, 10))
    assert masked.ranks.tolist() == [1]
    assert masked.metrics["HR@1"] == 1.0
    unmasked = evaluate_offline(model, split, CATALOG, ks=(1, 10), mask_history=False)
    assert unmasked.ranks.tolist() == [2]
    assert unmasked.metrics["HR@1"] == 0.0
    assert unmasked.metrics["NDCG@10"] == pytest.approx(1 / np.log2(3))
    valid = evaluate_offline(model, split, CATALOG, stage="valid", ks=(1,))  # history a, b
    assert valid.ranks.tolist() == [2]  # c and d tie at .7, ties are pessimistic


def test_offline_batches_give_the_same_ranks_as_one_batch() -> None:
    events = sorted(
        _events("u", "abcd") + _events("v", "bacd", T0 + 7) + _events("w", "dcab", T0 + 9),
        key=lambda e: e.ts,
    )
    split = leave_last_out(events)
    model = ItemKNNText(CATALOG, VECS, n_last=2)
    one = evaluate_offline(model, split, CATALOG, batch_users=256)
    many = evaluate_offline(model, split, CATALOG, batch_users=1)
    assert one.ranks.tolist() == many.ranks.tolist()
    assert one.metrics == many.metrics


def test_stream_ranks_each_next_item_with_recent_items_masked() -> None:
    model = ItemKNNText(CATALOG, VECS, n_last=1)
    result = replay_stream(model, _events("u", "abcd"), CATALOG, ks=(1, 10))
    # after a: b ranks 3rd (d .8, c .6, b 0; a masked); after b: c first; after c: d first
    assert result.predictions == 3
    assert result.metrics["HR@1"] == pytest.approx(2 / 3)
    assert result.metrics["MRR@10"] == pytest.approx((1 / 3 + 1 + 1) / 3)
    # unmasked, the last item itself always ranks first: ranks 4, 2, 2
    unmasked = replay_stream(model, _events("u", "abcd"), CATALOG, ks=(1, 10), mask_recent=0)
    assert unmasked.metrics["HR@1"] == 0.0
    assert unmasked.metrics["MRR@10"] == pytest.approx((1 / 4 + 1 / 2 + 1 / 2) / 3)


def test_gaps_are_seconds_since_the_previous_event() -> None:
    assert gaps_s(_events("u", "abc")).tolist() == [0.0, 60.0, 60.0]


def _two_topics() -> tuple[ItemIndex, np.ndarray, dict[str, object]]:
    ids = [f"A{k}" for k in range(12)] + [f"B{k}" for k in range(12)]
    vecs = np.zeros((24, 3), dtype=np.float32)
    vecs[:12, 0], vecs[12:, 1] = 1.0, 1.0
    vecs[:, 2] = np.linspace(0, 0.01, 24)  # distinct items, negligible next to the topic axis
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    truth = {
        "item_topics": {i: i[0] for i in ids},
        "switches": {"u": [{"event_index": 4, "ts": 0, "from_topic": "A", "to_topic": "B"}]},
    }
    return ItemIndex([ItemRecord(item_id=i, title=i) for i in ids]), vecs, truth


def test_time_to_adapt_static_profile_vs_last_item() -> None:
    catalog, vecs, truth = _two_topics()
    items = ["A0", "A1", "A2", "A3", "B0", "B1", "B2", "B3", "B4", "B5"]
    events = [BehaviourEvent(f"u-{k}", "u", T0 + k, "view", i) for k, i in enumerate(items)]
    last = replay_stream(ItemKNNText(catalog, vecs, n_last=1), events, catalog, truth=truth)
    assert last.adapt == [1]
    static = replay_stream(StaticProfile(catalog, vecs, None), events, catalog, truth=truth)
    assert static.adapt == [5]  # the mean tips to B after 5 B events against 4 A events
    short = replay_stream(StaticProfile(catalog, vecs, None), events[:8], catalog, truth=truth)
    assert short.adapt == [None]
    summary = short.adapt_summary()
    assert summary["median_events"] is None and summary["adapted_share"] == 0.0
    assert last.adapt_summary()["median_events"] == 1.0
