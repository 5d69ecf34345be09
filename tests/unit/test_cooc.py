"""The served hybrid's co-occurrence part: the neighbour table built from a log (exact
neighbours), its sparse scores, the blend (= standardise + w * standardise on a small example),
its place in retrieval and the engine, and the profile size budget it leaves alone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from encoders.cooccurrence import build_table, neighbours
from profiles.cooc import CoocBlend, CoocTable, CoocTableError, blend_row, standardise_row
from profiles.engine import Engine
from profiles.policy import PolicyConfig
from profiles.retrieval import ItemIndex, Query, adjust_row, items_from
from streams.messages.records import BehaviourEvent
from tests.fakes import FakeModel, catalog
from tests.unit.test_engine import Run, ev, incoming

ITEMS = ["a", "b", "c", "d", "e"]


def _log(seqs: dict[str, list[str]]) -> list[BehaviourEvent]:
    out = []
    for user, items in seqs.items():
        for t, item in enumerate(items):
            out.append(
                BehaviourEvent(
                    event_id=f"{user}-{t}", user_id=user, action="purchase", ts=1.7e9 + t,
                    item_id=item,
                )
            )  # fmt: skip
    return out


def test_table_from_a_tiny_log_has_the_exact_neighbours(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # u1: a b c ; u2: a b ; counts a=2 b=2 c=1. Pairs (window 5): a-b at distance 1 twice
    # (2.0), b-c at 1 (1.0), a-c at 2 (0.5). Cosine-normalised: a-b 2/sqrt(4) = 1.0,
    # b-c 1/sqrt(2), a-c 0.5/sqrt(2). d, e never occur: no neighbours.
    table = build_table(ITEMS, _log({"u1": ["a", "b", "c"], "u2": ["a", "b"]}), top=2)
    assert table.neighbours("a") == pytest.approx({"b": 1.0, "c": 0.5 / math.sqrt(2)})
    assert table.neighbours("b") == pytest.approx({"a": 1.0, "c": 1 / math.sqrt(2)})
    assert table.neighbours("c") == pytest.approx({"b": 1 / math.sqrt(2), "a": 0.5 / math.sqrt(2)})
    assert table.neighbours("d") == {} and table.neighbours("zz") == {}
    top1 = build_table(ITEMS, _log({"u1": ["a", "b", "c"], "u2": ["a", "b"]}), top=1)
    assert top1.neighbours("c") == pytest.approx({"b": 1 / math.sqrt(2)})  # strongest only
    # The same statistic as the cooc-knn baseline (its dense (N, K) form).
    nbr, sim = neighbours({i: n for n, i in enumerate(ITEMS)}, _log({"u1": ["a", "b", "c"]}), 5, 4)
    t2 = build_table(ITEMS, _log({"u1": ["a", "b", "c"]}), top=4)
    for row, item in enumerate(ITEMS):
        dense = {ITEMS[j]: float(s) for j, s in zip(nbr[row], sim[row], strict=True) if s > 0}
        assert t2.neighbours(item) == pytest.approx(dense)
    # Saved and loaded (no pickle): the same table; built again: the same digest.
    again = build_table(ITEMS, _log({"u1": ["a", "b", "c"], "u2": ["a", "b"]}), top=2)
    assert again.digest() == table.digest() != top1.digest()
    path = tmp_path / "cooc.safetensors"
    table.save(path)
    back = CoocTable.load(path)
    assert back.item_ids == table.item_ids and back.digest() == table.digest()
    assert back.neighbours("c") == table.neighbours("c")
    (tmp_path / "bad.safetensors").write_bytes(b"not a table")
    with pytest.raises(CoocTableError):
        CoocTable.load(tmp_path / "bad.safetensors")


def test_scores_read_the_last_n_items_with_decay() -> None:
    table = build_table(ITEMS, _log({"u1": ["a", "b", "c"], "u2": ["a", "b"]}), top=5)
    # Newest first; None (an item-less event) is skipped; unknown items add nothing.
    got = table.scores([None, "c", "zz", "a"])
    d = table.decay
    want = {
        "b": 1 / math.sqrt(2) + d**2 * 1.0,  # c is item 0, zz item 1, a item 2
        "a": 0.5 / math.sqrt(2),
        "c": d**2 * 0.5 / math.sqrt(2),
    }
    assert got == pytest.approx(want)
    short = CoocTable(table.item_ids, table.indptr, table.indices, table.weights, n_last=1)
    assert short.scores(["c", "a"]) == pytest.approx(table.neighbours("c"))
    assert table.scores([]) == {} and table.scores(["d", None]) == {}


def test_blend_equals_standardise_plus_weight_times_standardised_cooc() -> None:
    rng = np.random.default_rng(0)
    row = rng.standard_normal(12).astype(np.float32)
    cols, vals = [3, 7, 0], [0.9, 0.2, 0.5]
    dense = np.zeros(12)
    dense[cols] = vals
    for w in (0.0, 0.25, 2.0):
        want = standardise_row(row) + w * (dense - dense.mean()) / dense.std()
        assert blend_row(row, cols, vals, w) == pytest.approx(want, abs=1e-5)
    assert standardise_row(row).mean() == pytest.approx(0, abs=1e-6)
    assert standardise_row(row).std() == pytest.approx(1, abs=1e-5)
    # A constant row standardises to zeros; so does a constant co-occurrence row.
    assert np.all(standardise_row(np.ones(5)) == 0)
    assert blend_row(row[:2], [0, 1], [0.3, 0.3], 1.0) == pytest.approx(standardise_row(row[:2]))
    # adjust_row: boost first, then the blend over the rows it knows (unknown ids ignored).
    row_of = {f"i{n}": n for n in range(12)}
    cooc = CoocBlend(0.5, {"i3": 0.9, "i7": 0.2, "i0": 0.5, "gone": 9.0})
    boosted = row.copy()
    boosted[5] += 1.0
    got = adjust_row(row, {"i5": 1.0, "gone": 3.0}, cooc, row_of)
    assert got == pytest.approx(blend_row(boosted, cols, vals, 0.5), abs=1e-6)


def test_retrieval_ranks_by_the_blend_then_excludes() -> None:
    rng = np.random.default_rng(2)
    index = items_from(((f"i{n}", rng.standard_normal(4).astype(np.float32)) for n in range(30)), 4)
    user = rng.standard_normal(4).astype(np.float32)
    raw = index.matrix @ user
    worst, second = (index.ids[j] for j in np.argsort(raw)[:2])
    cooc = CoocBlend(4.0, {worst: 1.0, second: 0.5})
    listed = index.top_k([Query(user, frozenset(), (), None, {}, cooc)], 3)[0]
    assert [s.item_id for s in listed[:2]] == [worst, second]  # co-occurrence lifts them
    rows = np.array([index.ids.index(worst), index.ids.index(second)])
    blended = blend_row(raw, rows, [1.0, 0.5], 4.0)
    assert listed[0].score == pytest.approx(float(blended.max()), abs=1e-5)
    excluded = index.top_k([Query(user, frozenset({worst}), (), None, {}, cooc)], 3)[0]
    assert excluded[0].item_id == second  # exclusion still applies, after
    alone = index.top_k([Query(user, frozenset(), ())], 3)[0]
    assert [s.item_id for s in alone] == [index.ids[j] for j in np.argsort(-raw)[:3]]


def _engine(model: FakeModel, window: int = 20) -> Engine:
    index: ItemIndex = ItemIndex(model.dim)
    for emb in model.embed_items(catalog({"tea": 6, "garden": 6})):
        index.upsert(emb.item_id, emb.vec, emb)
    return Engine(model, index, PolicyConfig(refresh_events=1), top_k=3, window=window,
                  exclude="none")  # fmt: skip


def test_engine_serves_the_hybrid_from_the_profile_window() -> None:
    ids = [f"{c}-{n}" for c in ("tea", "garden") for n in range(6)]
    # garden-5 always follows tea-0 in the log: after tea-0 the hybrid lists garden-5 first.
    table = build_table(ids, _log({f"u{k}": ["tea-0", "garden-5"] for k in range(3)}))
    plain, hybrid = FakeModel(), FakeModel()
    hybrid.cooc, hybrid.cooc_weight = table, 4.0
    lists = {}
    for name, model in (("plain", plain), ("hybrid", hybrid)):
        run = Run(_engine(model))
        run.feed(incoming([ev(0, "u", "tea-1"), ev(1, "u", "tea-0")]))
        lists[name] = [s.item_id for s in run.lists[-1].items]
        profile = run.profile("u")
        assert profile is not None
        query = run.engine.query(profile)
        assert (query.cooc is None) == (name == "plain")
        if query.cooc is not None:  # the recent window, newest first, read by the model's table
            assert dict(query.cooc.scores) == pytest.approx(table.scores(["tea-0", "tea-1"]))
    assert lists["hybrid"][0] == "garden-5" and lists["plain"][0] != "garden-5"


def test_the_hybrid_leaves_the_profile_size_unchanged() -> None:
    ids = [f"{c}-{n}" for c in ("tea", "garden") for n in range(6)]
    table = build_table(ids, _log({"u0": ids, "u1": ids[::-1]}))
    sizes = {}
    for name, weight in (("plain", 0.0), ("hybrid", 1.0)):
        model = FakeModel()
        model.cooc, model.cooc_weight = table, weight
        run = Run(_engine(model, window=5))
        run.feed(incoming([ev(i, "u", ids[i % 12]) for i in range(40)]))
        profile = run.profile("u")
        assert profile is not None
        sizes[name] = len(profile.to_bytes())
    assert sizes["hybrid"] == sizes["plain"]
