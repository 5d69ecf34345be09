"""The batch engine on a fake contract model: rounds, dedupe, triggers, exclusion, invariance."""

from __future__ import annotations

import numpy as np
import pytest

from profiles.contracts import ItemEmbedding
from profiles.engine import Engine, Incoming
from profiles.policy import PolicyConfig
from profiles.profile import UserProfile
from profiles.retrieval import ItemIndex
from streams.messages.records import BehaviourEvent
from tests.fakes import FakeModel, catalog

T0 = 1.7e9


def make_engine(model: FakeModel | None = None, **policy: float) -> Engine:
    model = model or FakeModel()
    index: ItemIndex[ItemEmbedding] = ItemIndex(model.dim)
    for emb in model.embed_items(catalog({"tea": 12, "garden": 12, "books": 12})):
        index.upsert(emb.item_id, emb.vec, emb)
    return Engine(model, index, PolicyConfig(**policy), top_k=5, window=10)  # type: ignore[arg-type]


def ev(
    i: int, user: str, item: str | None, action: str = "click", text: str | None = None
) -> BehaviourEvent:
    return BehaviourEvent(f"{user}-e{i}", user, T0 + 60 * i, action, item, text)


def incoming(events: list[BehaviourEvent], start: int = 0) -> list[Incoming]:
    return [Incoming(e, "ev:0", start + k, start + k) for k, e in enumerate(events)]


class Run:
    """Feed batches to an engine, keeping profiles like the table would."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table: dict[str, bytes] = {}
        self.lists: list = []

    def profile(self, user: str) -> UserProfile | None:
        raw = self.table.get(user)
        return None if raw is None else UserProfile.from_bytes(raw)

    def feed(self, batch: list[Incoming]) -> None:
        users = {i.event.user_id for i in batch}
        stored = {
            u: UserProfile.from_bytes(self.table[u]) if u in self.table else None for u in users
        }
        result = self.engine.process(batch, stored)
        for u, p in result.profiles.items():
            self.table[u] = p.to_bytes()
        self.lists.extend(result.lists)


def test_every_user_gets_a_cold_start_list_without_consumed_items() -> None:
    run = Run(make_engine())
    events = [ev(0, "alice", "tea-0"), ev(0, "bob", "garden-0"), ev(1, "alice", "tea-1")]
    run.feed(incoming(events))
    first = {rec.user_id: rec for rec in run.lists if rec.trigger == "cold_start"}
    assert set(first) == {"alice", "bob"}
    assert first["alice"].event_id == "alice-e0"
    alice_items = [s.item_id for s in first["alice"].items]
    assert "tea-0" not in alice_items and len(alice_items) == 5
    assert all(i.startswith("tea-") for i in alice_items)  # closest category first
    assert all(s.because is not None and s.because.item_id == "tea-0" for s in first["alice"].items)
    assert {s.item_id.split("-")[0] for s in first["bob"].items} == {"garden"}


def test_batching_does_not_change_state() -> None:
    events = []
    for i in range(30):
        for user, cat in (("u1", "tea"), ("u2", "garden"), ("u3", "books")):
            item = f"{cat if i < 15 else 'tea'}-{i % 12}"
            events.append(ev(i, user, item, action="view" if i % 3 else "click"))
    whole, pieces = Run(make_engine()), Run(make_engine())
    whole.feed(incoming(events))
    batch = incoming(events)
    for k in range(0, len(batch), 7):
        pieces.feed(batch[k : k + 7])
    assert whole.table == pieces.table
    assert [(r.user_id, r.event_id, r.trigger) for r in whole.lists] == [
        (r.user_id, r.event_id, r.trigger) for r in pieces.lists
    ]


def test_redelivered_and_reproduced_events_are_skipped() -> None:
    engine = make_engine()
    run = Run(engine)
    batch = incoming([ev(i, "u", f"tea-{i}") for i in range(4)])
    run.feed(batch)
    before = dict(run.table)
    users = {"u": UserProfile.from_bytes(run.table["u"])}
    again = engine.process(batch, users)  # the same offsets after a crash
    assert again.applied == 0 and len(again.duplicates) == 4 and not again.lists
    assert again.profiles == {}
    same_id = engine.process([Incoming(ev(2, "u", "tea-2"), "ev:0", 99, 0)], users)
    assert same_id.applied == 0 and same_id.duplicates == [0]  # re-produced: new offset, same id
    assert run.table == before


def test_unknown_items_are_rejected_and_others_flow() -> None:
    engine = make_engine()
    result = engine.process(
        incoming([ev(0, "u", "nope"), ev(1, "u", "tea-1"), ev(2, "u", None, "search", "tea")]), {}
    )
    assert [(ref, reason) for ref, reason, _ in result.rejected] == [(0, "unknown_item")]
    assert result.applied == 2 and result.profiles["u"].events_applied == 2


def test_interest_switch_publishes_within_a_few_events_and_noise_mostly_does_not() -> None:
    run = Run(make_engine(confirm=2, refresh_events=1000))
    events = [ev(i, "u", f"tea-{i % 12}") for i in range(20)]
    events.append(ev(20, "u", "garden-0"))  # one stray click ...
    events += [ev(21 + i, "u", f"tea-{i % 12}") for i in range(10)]  # ... then back
    switch_at = len(events)
    events += [ev(31 + i, "u", f"garden-{1 + i % 11}") for i in range(10)]  # a real switch
    run.feed(incoming(events))
    drift_events = [int(r.event_id.split("-e")[1]) for r in run.lists if r.trigger == "drift"]
    noise = [i for i in drift_events if 20 <= i < 31]
    after_switch = [i for i in drift_events if i >= 31]
    assert noise == []
    assert after_switch and after_switch[0] - 31 < 3, drift_events
    assert switch_at == 31
    last = next(r for r in reversed(run.lists) if r.trigger == "drift")
    assert {s.item_id.split("-")[0] for s in last.items} == {"garden"}


def test_refresh_after_n_events() -> None:
    run = Run(make_engine(refresh_events=5))
    run.feed(incoming([ev(i, "u", f"tea-{i % 12}") for i in range(11)]))
    assert [r.trigger for r in run.lists] == ["cold_start", "refresh", "refresh"]


def test_profile_of_another_model_is_reset() -> None:
    old = Run(make_engine(FakeModel("fake-old")))
    old.feed(incoming([ev(i, "u", f"tea-{i}") for i in range(3)]))
    engine = make_engine(FakeModel("fake-new"))
    stored = {"u": UserProfile.from_bytes(old.table["u"])}
    result = engine.process(incoming([ev(3, "u", "tea-3")], start=3), stored)
    p = result.profiles["u"]
    assert result.resets == 1 and p.model_version == "fake-new"
    assert p.events_applied == 4 and result.lists[0].trigger == "cold_start"


def test_item_less_search_and_on_demand_list() -> None:
    engine = make_engine()
    result = engine.process(incoming([ev(0, "u", None, "search", "garden tools")]), {})
    p = result.profiles["u"]
    assert p.events_applied == 1 and p.recent[0].item_id is None
    rec = engine.recommend(p)
    assert rec.trigger == "request" and len(rec.items) == 5
    assert p.events_applied == 1  # unchanged
    assert rec.to_json(published_ts=1.0)["event_id"] == "u-e0"
    assert len(engine.recommend(p, 2).items) == 2 and len(engine.recommend(p, 7).items) == 7


def test_one_model_call_per_micro_batch() -> None:
    model = FakeModel()
    engine = make_engine(model)
    events = [ev(i, u, f"tea-{i}") for i in range(3) for u in ("a", "b", "c", "d")]
    engine.process(incoming(events), {})
    assert model.sequence_calls == 1  # one model call per micro-batch
    assert model.steps == 3  # the fake steps round by round: one batched step per round


@pytest.mark.parametrize("bad_k", [0])
def test_top_k_zero_gives_empty_lists(bad_k: int) -> None:
    engine = make_engine()
    engine.top_k = bad_k
    result = engine.process(incoming([ev(0, "u", "tea-0")]), {})
    assert result.lists[0].items == []
    assert np.isfinite(result.lists[0].drift)
