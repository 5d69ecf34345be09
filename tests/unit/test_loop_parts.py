"""The learning loop's pure parts: hit tracking, A/B assignment, rebuilds, holdout, routing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from encoders.evaluation.base import ItemIndex as Catalog
from encoders.evaluation.holdout import HoldoutError, beats, evaluate_holdout, time_split
from profiles.abtest import assign, bucket
from profiles.contracts import ItemEmbedding
from profiles.engine import BatchResult, Engine, Incoming, RecList
from profiles.hitrate import HitTracker, RollingRate
from profiles.policy import PolicyConfig
from profiles.profile import UserProfile
from profiles.rebuild import rebuild
from profiles.retrieval import ItemIndex, Scored
from streams.messages.records import BehaviourEvent, ItemRecord
from streams.worker.metrics import LoopMetrics
from streams.worker.router import ModelRouter
from tests.fakes import FakeModel, catalog
from tests.unit.test_engine import Run, ev, incoming

# --- hit rate ---------------------------------------------------------------------------------


def test_hit_within_the_window_miss_after_it_and_skips_do_not_count() -> None:
    t = HitTracker(window=3)
    t.published("u", ["a", "b"], "m1")
    assert t.event("u", "x", "view") == []
    assert t.event("u", "a", "skip") == []  # skipping a listed item is not acting on it
    [hit] = t.event("u", "b", "click")
    assert hit.hit and hit.events == 3 and hit.model_version == "m1"
    t.published("u", ["a"], "m2")
    assert t.event("u", "x", "view") == []
    assert t.event("u", None, "search") == []
    [miss] = t.event("u", "a", "skip")
    assert not miss.hit and miss.events == 3
    assert len(t) == 0


def test_overlapping_watches_are_judged_independently_and_users_are_bounded() -> None:
    t = HitTracker(window=2, max_users=2)
    t.published("u", ["a"], "m1")
    t.event("u", "x", "view")
    t.published("u", ["b"], "m1")
    outcomes = t.event("u", "b", "view")  # first watch runs out, the second hits
    assert sorted((o.hit, o.events) for o in outcomes) == [(False, 2), (True, 1)]
    for user in ("v", "w", "z"):
        t.published(user, ["a"], "m1")
    assert t.event("v", "a", "view") == []  # the least recently active user was dropped
    assert len(t) == 2


def _rec(user: str, items: list[str], ref: int, version: str = "m1") -> RecList:
    scored = [Scored(i, 1.0, None) for i in items]
    return RecList(user, scored, "drift", 0.3, version, f"e{ref}", 0.0, ref)


def test_batch_feed_judges_a_list_by_the_events_after_it_in_the_same_batch() -> None:
    events = [
        BehaviourEvent("e0", "u", 1.0, "view", "x"),
        BehaviourEvent("e1", "v", 1.0, "view", "y"),
        BehaviourEvent("e2", "u", 2.0, "view", "dup"),
        BehaviourEvent("e3", "u", 3.0, "view", "a"),
    ]
    inc = [Incoming(e, "t:0", k, k) for k, e in enumerate(events)]
    result = BatchResult(lists=[_rec("u", ["a"], 0)], duplicates=[2])
    [o] = HitTracker(window=2).batch(inc, result)
    assert o.hit and o.events == 1  # the duplicate did not count as an event


def test_rolling_rate_forgets_old_outcomes() -> None:
    r = RollingRate(size=4)
    for hit in (True, True, True, True, False, False):
        r.add(hit)
    assert r.get() == pytest.approx(0.5) and len(r) == 4


# --- A/B --------------------------------------------------------------------------------------


def test_assignment_is_stable_proportional_and_salted() -> None:
    users = [f"user-{i}" for i in range(4000)]
    first = [assign(u, 0.25, "m-abc") for u in users]
    assert first == [assign(u, 0.25, "m-abc") for u in users]
    share = first.count("challenger") / len(users)
    assert 0.22 < share < 0.28
    other = [assign(u, 0.25, "m-def") for u in users]
    assert first != other  # a new challenger gets a fresh sample
    assert all(assign(u, 0.0) == "champion" for u in users[:50])
    assert all(assign(u, 1.0) == "challenger" for u in users[:50])
    assert 0.0 <= bucket("x") < 1.0
    with pytest.raises(ValueError, match="share"):
        assign("u", 1.5)


# --- rebuild ----------------------------------------------------------------------------------


def _engine(version: str) -> Engine:
    model = FakeModel(version)
    index: ItemIndex[ItemEmbedding] = ItemIndex(model.dim)
    for emb in model.embed_items(catalog({"tea": 12, "garden": 12, "books": 12})):
        index.upsert(emb.item_id, emb.vec, emb)
    return Engine(model, index, PolicyConfig(), top_k=5, window=4)  # type: ignore[arg-type]


def test_rebuild_equals_a_fresh_run_over_the_window_and_keeps_counters() -> None:
    old = Run(_engine("fake-1"))
    events = [ev(i, "u", f"tea-{i}") for i in range(6)]
    old.feed(incoming(events))
    profile = old.profile("u")
    assert profile is not None and profile.events_applied == 6
    new = _engine("fake-2")
    stats = rebuild([profile], new.model, new.index)
    assert stats.profiles == 1 and stats.events == 4 and stats.skipped == 0
    fresh = Run(_engine("fake-2"))
    fresh.feed(incoming(events[-4:]))  # the same window, from scratch
    expected = fresh.profile("u")
    assert expected is not None
    np.testing.assert_allclose(profile.state, expected.state, atol=1e-6)
    np.testing.assert_allclose(profile.get(), expected.get(), atol=1e-6)
    assert profile.model_version == "fake-2"
    assert profile.events_applied == 6 and profile.offsets == {"ev:0": 5}
    assert [e.event_id for e in profile.recent] == [e.event_id for e in events[-4:]]


def test_rebuild_skips_items_that_left_the_catalog() -> None:
    old = Run(_engine("fake-1"))
    old.feed(incoming([ev(i, "u", f"tea-{i}") for i in range(3)]))
    profile = old.profile("u")
    assert profile is not None
    new = _engine("fake-2")
    new.index.delete("tea-1")
    assert rebuild([profile], new.model, new.index).skipped == 1


# --- holdout ----------------------------------------------------------------------------------


class NextIdModel:
    """Predicts the item after the last one (by catalog index): ranks are easy to compute."""

    name = "next-id"

    def __init__(self, n: int, catalog_: Catalog) -> None:
        self.n, self.catalog, self.state_dim = n, catalog_, 1

    def initial_states(self, n: int) -> np.ndarray:
        return np.full((n, 1), -1.0, dtype=np.float32)

    def step(
        self, states: np.ndarray, events: Sequence[BehaviourEvent], gaps_s: np.ndarray
    ) -> np.ndarray:
        out = states.copy()
        for r, e in enumerate(events):
            if e.item_id is not None:
                out[r, 0] = self.catalog.of(e.item_id)
        return out

    def interest(self, states: np.ndarray) -> np.ndarray:
        return states

    def scores(self, interests: np.ndarray) -> np.ndarray:
        out = np.zeros((len(interests), self.n), dtype=np.float32)
        for r, last in enumerate(interests[:, 0]):
            out[r, (int(last) + 1) % self.n] = 1.0
        return out


def test_holdout_ranks_only_targets_after_the_cut_with_recent_items_masked() -> None:
    cat = Catalog([ItemRecord(f"i{k}", f"item {k}") for k in range(5)])
    events = [BehaviourEvent(f"a{k}", "a", float(k + 1), "view", f"i{k}") for k in (0, 1, 2, 4)]
    events += [BehaviourEvent("b0", "b", 0.5, "view", "i3")]  # b has no target after the cut
    result = evaluate_holdout(NextIdModel(5, cat), events, cat, cut_ts=3.0, ks=(1, 5))
    # After i1 the next item i2 (ts 3) is predicted: rank 1. After i2, i3 is predicted and the
    # target i4 ties with nothing unmasked but i3 ahead of it: rank 2.
    assert result.predictions == 2 and result.users == 1
    assert result.metrics["HR@1"] == pytest.approx(0.5)
    assert result.metrics["MRR@5"] == pytest.approx(0.75)


def test_time_split_and_verdict() -> None:
    events = [BehaviourEvent(f"e{k}", "u", float(k), "view", "i") for k in range(20)]
    split = time_split(events, 0.25)
    assert split.cut_ts == 15.0 and len(split.train) == 15 and split.holdout_events == 5
    with pytest.raises(HoldoutError):
        time_split(events[:5])
    assert beats({"NDCG@10": 0.3}, {"NDCG@10": 0.2}, min_gain=0.05)
    assert not beats({"NDCG@10": 0.22}, {"NDCG@10": 0.2}, min_gain=0.05)


# --- the router -------------------------------------------------------------------------------


def _router(champion: Engine, challenger: Engine | None = None, share: float = 0.0) -> ModelRouter:
    return ModelRouter(
        champion,
        challenger,
        share=share,
        tracker=HitTracker(window=3),
        metrics=LoopMetrics(CollectorRegistry()),
    )


def test_router_splits_users_by_hash_and_each_list_names_its_model() -> None:
    router = _router(_engine("fake-1"), _engine("fake-2"), share=0.5)
    run = Run(router)
    users = [f"user-{k}" for k in range(40)]
    run.feed(incoming([ev(0, u, "tea-1") for u in users]))
    by_version = {rec.user_id: rec.model_version for rec in run.lists}
    assert set(by_version) == set(users)
    for u in users:
        expected = "fake-2" if router.role_of(u) == "challenger" else "fake-1"
        assert by_version[u] == expected
        profile = run.profile(u)
        assert profile is not None and profile.model_version == expected
    assert 8 < sum(v == "fake-2" for v in by_version.values()) < 32


def _profile_table(run: Run) -> list[UserProfile]:
    return [UserProfile.from_bytes(raw) for raw in run.table.values()]


@pytest.mark.parametrize("ahead", [False, True])
def test_a_swap_rebuilds_profiles_instead_of_resetting_them(ahead: bool) -> None:
    run = Run(_router(_engine("fake-1")))
    users = ["u1", "u2", "u3"]
    run.feed(incoming([ev(i, u, f"tea-{i}") for i in range(5) for u in users]))
    before = {u: run.profile(u) for u in users}
    new = _router(_engine("fake-2"))
    run.engine = new
    if ahead:
        assert new.rebuild_ahead(_profile_table(run)) == 3
        assert set(new.rebuilt) == set(users)
    run.lists.clear()
    batch = incoming([ev(9, u, "garden-1") for u in users], start=100)
    stored = {u: run.profile(u) for u in users}
    result = new.process(batch, stored)
    assert result.resets == 0  # rebuilt, not reset
    assert new.rebuilt == {}
    for u in users:
        p = result.profiles[u]
        old = before[u]
        assert old is not None
        assert p.model_version == "fake-2"
        assert p.events_applied == old.events_applied + 1
        assert p.offsets["ev:0"] == 100 + users.index(u)
    assert {(r.trigger, r.model_version) for r in result.lists} == {("refresh", "fake-2")}
    samples = {
        s.labels["mode"]: s.value
        for m in new.metrics.rebuilds.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert samples == ({"background": 3.0, "background_used": 3.0} if ahead else {"lazy": 3.0})


# --- trainer service pieces -------------------------------------------------------------------


def test_parse_duration() -> None:
    from streams.trainer.logdata import parse_duration

    assert parse_duration("90s") == 90 and parse_duration("15m") == 900
    assert parse_duration("12h") == 43_200 and parse_duration("7d") == 604_800
    assert parse_duration("2w") == 1_209_600 and parse_duration("1.5h") == 5400
    for bad in ("", "7x", "-1d", "0s", "d"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


def test_hit_rate_watch_judges_only_new_outcomes_and_waits_for_enough() -> None:
    from streams.trainer.hitwatch import HitRateWatch

    watch = HitRateWatch(min_outcomes=10)
    w = "http://w1/metrics"
    watch.add({w: {("m1", "hit"): 3.0, ("m1", "miss"): 2.0}})
    assert watch.look("m1") is None  # only 5 so far
    watch.add({w: {("m1", "hit"): 8.0, ("m1", "miss"): 4.0}})
    assert watch.look("m1") == (8 / 12, 12)
    # the next judgement counts only what came after: 2 hits, 8 misses
    watch.add({w: {("m1", "hit"): 10.0, ("m1", "miss"): 12.0}})
    assert watch.look("m1") == (0.2, 10)
    watch.add({w: {("m1", "hit"): 1.0, ("m2", "hit"): 50.0}})  # restarted: 1 new hit of m1
    assert watch.look("m1") is None  # 1 list of m1 since the last judgement
    assert watch.look("m2") == (1.0, 50)  # m2's lists are m2's
