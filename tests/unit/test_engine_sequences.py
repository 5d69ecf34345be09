"""One LSTM call per micro-batch equals the per-round path (one ``model.step`` per event round).

The model level: ``ServingModel.step_sequences`` (each user's new events padded and packed into
one LSTM call) against ``ServingModel.step`` round by round. The engine level: a batch with
repeated users, varied lengths, redeliveries and re-produced events against the same events fed
one per micro-batch (every event its own ``step``): same profiles (LSTM state, long-term and served
interest to 1e-5), same drift (to 1e-4: see DRIFT_ATOL), same lists, same duplicates.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.config import ModelConfig
from encoders.model import DriftRecModel
from encoders.serving import ServingModel
from encoders.textenc import TextEncoder
from profiles.contracts import ItemEmbedding, StepEvent
from profiles.engine import Engine, Incoming, RecList
from profiles.policy import PolicyConfig
from profiles.profile import UserProfile
from profiles.retrieval import ItemIndex
from streams.messages.records import ACTIONS, BehaviourEvent, ItemRecord
from tests.unit.tinylm import WORDS, build_tiny_model

ATOL = 1e-5
#: Drift compares the interest with the *float16-stored* published interest: two interests 1e-7
#: apart can round to neighbouring float16 values (relative step 2^-11), which moves a drift by up
#: to about 1e-4. The interests themselves are compared at ATOL.
DRIFT_ATOL = 1e-4
ITEMS = [
    ItemRecord(f"i{n}", f"{WORDS[n]} {WORDS[n + 3]} {WORDS[n + 7]}", category=f"c{n % 3}")
    for n in range(12)
]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("bert"), "bert")


def serving(bert_dir: Path, **config: object) -> ServingModel:
    cfg = ModelConfig(text_dim=32, dim=16, **config)  # type: ignore[arg-type]
    torch.manual_seed(3)
    net = DriftRecModel(cfg).eval()
    enc = TextEncoder(bert_dir, device="cpu")
    return ServingModel(net, enc, version="t", device=torch.device("cpu"))


def random_step(rng: random.Random, items: list[ItemEmbedding]) -> StepEvent:
    action = rng.choice(ACTIONS)
    item = None if rng.random() < 0.15 else rng.choice(items)
    text = rng.choice(["red tea", "garden party", None, None, None])
    if item is None and text is None:
        text = "vintage star"
    return StepEvent(action, rng.choice([0.0, 3.0, 90.0, 7200.0]), item, text)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_step_sequences_equals_stepping_round_by_round(bert_dir: Path, seed: int) -> None:
    model = serving(bert_dir)
    items = model.embed_items(ITEMS)
    rng = random.Random(seed)
    lengths = [rng.choice([1, 1, 2, 3, 5, 8]) for _ in range(9)]
    seqs = [[random_step(rng, items) for _ in range(n)] for n in lengths]
    states = np.random.default_rng(seed).standard_normal((9, model.state_dim)).astype(np.float32)

    got_states, got_h = model.step_sequences(states, seqs)

    ref = states.copy()
    ref_h: dict[tuple[int, int], np.ndarray] = {}
    for r in range(max(lengths)):
        rows = [u for u, n in enumerate(lengths) if n > r]
        ref[rows], h = model.step(ref[rows], [seqs[u][r] for u in rows])
        ref_h.update({(u, r): h[b] for b, u in enumerate(rows)})
    flat = np.stack([ref_h[(u, r)] for u, n in enumerate(lengths) for r in range(n)])
    assert got_h.shape == (sum(lengths), model.dim)
    np.testing.assert_allclose(got_h, flat, atol=ATOL)
    np.testing.assert_allclose(got_states, ref, atol=ATOL)


def test_step_sequences_rejects_an_empty_user(bert_dir: Path) -> None:
    model = serving(bert_dir)
    items = model.embed_items(ITEMS[:1])
    states = np.zeros((2, model.state_dim), dtype=np.float32)
    with pytest.raises(ValueError, match="at least one event"):
        model.step_sequences(states, [[StepEvent("view", 0.0, items[0], None)], []])


def make_engine(model: ServingModel) -> Engine:
    index: ItemIndex[ItemEmbedding] = ItemIndex(model.dim)
    for emb in model.embed_items(ITEMS):
        index.upsert(emb.item_id, emb.vec, emb)
    # confirm=1, a short refresh and a low ceiling: drift, refresh and cold-start lists all occur.
    policy = PolicyConfig(confirm=1, refresh_events=4, ceiling=0.2, floor=0.01)
    return Engine(model, index, policy, top_k=4, window=6)


def traffic(seed: int, n: int = 90) -> list[Incoming]:
    """Events of 7 users (bursty: runs of one user), with redeliveries and re-produced events."""
    rng = random.Random(seed)
    out: list[Incoming] = []
    user = "u0"
    for k in range(n):
        if rng.random() < 0.4:
            user = f"u{rng.randrange(7)}"
        item = None if rng.random() < 0.1 else f"i{rng.randrange(12)}"
        text = "red tea" if item is None or rng.random() < 0.1 else None
        action = "search" if item is None else rng.choice(["view", "click", "cart", "like"])
        ts = 1.8e9 + 10 * k + rng.choice([0, 0, 5000])
        out.append(Incoming(BehaviourEvent(f"e{k}", user, ts, action, item, text), "ev:0", k, k))
        if rng.random() < 0.08:  # the same record redelivered (same offset)
            out.append(out[-1])
        if rng.random() < 0.05:  # the producer sent it again (same event id, a new offset)
            last = out[-1]
            out.append(Incoming(last.event, "ev:1", 1000 + k, 1000 + k))
    return out


def decode(raw: bytes, engine: Engine) -> UserProfile:
    return UserProfile.from_bytes(raw, engine.policy)  # as the worker's table codec does


def feed(engine: Engine, batches: list[list[Incoming]]) -> tuple[
    dict[str, UserProfile], list[RecList], list[int]
]:  # fmt: skip
    table: dict[str, bytes] = {}
    lists: list[RecList] = []
    dups: list[int] = []
    for batch in batches:
        users = {i.event.user_id for i in batch}
        stored = {u: decode(table[u], engine) if u in table else None for u in users}
        result = engine.process(batch, stored)
        table.update({u: p.to_bytes() for u, p in result.profiles.items()})
        lists.extend(result.lists)
        dups.extend(result.duplicates)
    return {u: decode(raw, engine) for u, raw in table.items()}, lists, dups


def assert_same_profiles(a: dict[str, UserProfile], b: dict[str, UserProfile]) -> None:
    assert a.keys() == b.keys()
    for u in a:
        p, q = a[u], b[u]
        for name in ("state", "long_term", "interest"):
            np.testing.assert_allclose(getattr(p, name), getattr(q, name), atol=ATOL, err_msg=name)
        assert (p.published is None) == (q.published is None)
        if p.published is not None and q.published is not None:
            np.testing.assert_allclose(p.published, q.published, atol=1e-3)  # stored in float16
        assert p.drift.mean == pytest.approx(q.drift.mean, abs=DRIFT_ATOL)
        assert p.drift.var == pytest.approx(q.drift.var, abs=DRIFT_ATOL)
        assert p.drift.streak == q.drift.streak
        assert (p.events_applied, p.events_since_list, p.lists_published) == (
            q.events_applied,
            q.events_since_list,
            q.lists_published,
        )
        assert (p.offsets, list(p.recent), p.last_ts, p.list_ts) == (
            q.offsets,
            list(q.recent),
            q.last_ts,
            q.list_ts,
        )


@pytest.mark.parametrize(
    ("seed", "config"),
    [
        (0, {}),
        (1, {"long_term": "ema", "half_life_events": 3.0}),
        (2, {"attention_window": 3, "repeat_window": 2, "scoring": "dot", "learn_mix": True}),
    ],
)
def test_one_call_per_batch_equals_the_per_event_path(
    bert_dir: Path, seed: int, config: dict[str, object]
) -> None:
    model = serving(bert_dir, **config)
    events = traffic(seed)
    counts: dict[str, int] = {}
    for inc in events:
        counts[inc.event.user_id] = counts.get(inc.event.user_id, 0) + 1
    assert max(counts.values()) >= 8  # repeated users: long per-user sequences in one batch
    # Two big batches (the second one continues stored profiles) against one event per batch.
    big = [events[:50], events[50:]]
    one = [[inc] for inc in events]
    p_big, l_big, d_big = feed(make_engine(model), big)
    p_one, l_one, d_one = feed(make_engine(model), one)

    assert sorted(d_big) == sorted(d_one) and len(d_big) >= 3  # the same skipped, exactly once
    assert_same_profiles(p_big, p_one)
    assert sum(p.events_applied for p in p_big.values()) == len(events) - len(d_big)
    triggers = {rec.trigger for rec in l_one}
    assert {"cold_start", "drift", "refresh"} <= triggers
    key = sorted(l_big, key=lambda r: r.ref or 0)
    ref = sorted(l_one, key=lambda r: r.ref or 0)
    assert [(r.user_id, r.event_id, r.trigger) for r in key] == [
        (r.user_id, r.event_id, r.trigger) for r in ref
    ]
    for got, want in zip(key, ref, strict=True):
        assert got.drift == pytest.approx(want.drift, abs=DRIFT_ATOL)
        assert [s.item_id for s in got.items] == [s.item_id for s in want.items]
        np.testing.assert_allclose(
            [s.score for s in got.items], [s.score for s in want.items], atol=ATOL
        )
