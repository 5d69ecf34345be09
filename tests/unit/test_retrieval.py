"""ItemIndex: incremental updates, batched top-K, exclusion, because."""

from __future__ import annotations

import numpy as np
import pytest

from profiles.retrieval import ItemIndex, Query, items_from


def _index() -> ItemIndex[None]:
    eye = np.eye(4, dtype=np.float32)
    return items_from([(f"i{j}", eye[j]) for j in range(4)], dim=4)


def test_top_k_batched_with_exclusion_and_order() -> None:
    index = _index()
    q1 = Query(np.array([0.9, 0.5, 0.1, 0.0], np.float32), frozenset({"i0"}), ())
    q2 = Query(np.array([0.0, 0.0, 0.2, 1.0], np.float32), frozenset(), ())
    lists = index.top_k([q1, q2], k=2)
    assert [s.item_id for s in lists[0]] == ["i1", "i2"]
    assert [s.item_id for s in lists[1]] == ["i3", "i2"]
    assert lists[0][0].score == pytest.approx(0.5)


def test_exclusion_can_leave_fewer_than_k() -> None:
    index = _index()
    q = Query(np.ones(4, np.float32), frozenset({"i0", "i1", "i2"}), ())
    assert [s.item_id for s in index.top_k([q], k=3)[0]] == ["i3"]


def test_because_names_the_closest_recent_event() -> None:
    index = _index()
    index.upsert("j0", np.array([1, 0.1, 0, 0], np.float32), None)
    index.upsert("j2", np.array([0, 0, 1, 0.1], np.float32), None)
    q = Query(
        np.array([1, 0, 1, 0], np.float32),
        frozenset({"i0", "i2"}),
        (("e1", "i0", "click"), ("e2", "i2", "view"), ("e3", "gone", "view")),
    )
    listed = index.top_k([q], k=2)[0]
    why = {s.item_id: s.because for s in listed}
    assert set(why) == {"j0", "j2"}
    assert why["j0"] is not None and why["j0"].event_id == "e1"
    assert why["j2"] is not None and why["j2"].event_id == "e2"
    assert listed[0].to_json()["because"] is not None


def test_upsert_delete_keep_rows_consistent() -> None:
    index = _index()
    assert index.delete("i1") and not index.delete("i1")
    assert len(index) == 3 and "i1" not in index
    # The last row moved into the hole: every id still maps to its own vector.
    for j in (0, 2, 3):
        vec = index.vector(f"i{j}")
        assert vec is not None and vec[j] == 1.0
    index.upsert("i2", np.array([0, 0, 5, 0], np.float32), None)
    assert index.vector("i2") is not None and index.vector("i2")[2] == 5.0  # type: ignore[index]
    for j in range(10):  # grows past the initial capacity
        index.upsert(f"n{j}", np.full(4, j, np.float32), None)
    assert len(index) == 13 and index.matrix.shape == (13, 4)
    with pytest.raises(ValueError, match="vector shape"):
        index.upsert("bad", np.zeros(3, np.float32), None)


def test_empty_index_and_k_zero() -> None:
    empty: ItemIndex[None] = ItemIndex(4)
    q = Query(np.ones(4, np.float32), frozenset(), ())
    assert empty.top_k([q], k=5) == [[]]
    assert _index().top_k([q], k=0) == [[]]


def test_because_batched_equals_one_query_at_a_time() -> None:
    rng = np.random.default_rng(4)
    index = items_from([(f"i{j}", rng.standard_normal(8).astype(np.float32)) for j in range(60)], 8)
    queries = []
    for b in range(25):
        recent = tuple(
            (f"e{b}-{t}", f"i{rng.integers(0, 70)}", "view")  # i60..i69 are not in the index
            for t in range(int(rng.integers(0, 9)))
        )
        queries.append(Query(rng.standard_normal(8).astype(np.float32), frozenset(), recent))
    lists = index.top_k(queries, k=6)
    for q, listed in zip(queries, lists, strict=True):
        alone = index.top_k([q], k=6)[0]  # batching changes nothing (scores: BLAS rounding)
        assert [(s.item_id, s.because) for s in listed] == [(s.item_id, s.because) for s in alone]
        assert [s.score for s in listed] == pytest.approx([s.score for s in alone], abs=1e-5)
        known = [r for r in q.recent if r[1] in index]
        for s in listed:
            if not known:
                assert s.because is None
                continue
            v = index.vector(s.item_id)
            assert v is not None
            sims = [
                float(v @ index.vector(i) / np.linalg.norm(v) / np.linalg.norm(index.vector(i)))  # type: ignore[operator, arg-type]
                for _, i, _ in known
            ]
            top = max(sims)
            latest = max(t for t, x in enumerate(sims) if x >= top - 1e-6)
            assert s.because is not None and s.because.event_id == known[latest][0]
