"""The per-event fast paths of issue 15 against the plain code they replace.

Each fast path (a list's JSON written directly, rows stacked by one concatenate, the ranking by
two stable sorts, the profile update without an ``Applied``, the published interest rounded once
per batch) must give exactly what the plain path gives, byte for byte where bytes leave the
process.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from profiles.engine import RecList
from profiles.errors import ProfileError
from profiles.listjson import list_json_bytes
from profiles.packing import Reader, Writer
from profiles.profile import Applied, RecentEvent, UserProfile
from profiles.retrieval import Because, ItemIndex, Query, Scored, dot_scores, items_from
from profiles.rows import stack_rows
from streams.messages.codec import encode_json
from streams.messages.records import ACTIONS

#: Texts that JSON escapes (quotes, backslash, controls) or keeps as they are (non-ASCII).
TEXTS = ["i1", 'say "hi"', "back\\slash", "tab\there\nnew", "\x00\x1f", "café", "日本", "🙂", ""]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(TEXTS) for _ in range(rng.randint(1, 3)))


def _score(rng: random.Random) -> float:
    return rng.choice([0.0, -0.0, 1.0, 1e-7, -3.2e-5, 123456.789, 1e20]) * rng.uniform(-2, 2)


def _list(rng: random.Random, n_items: int) -> RecList:
    recent = [Because(_text(rng), _text(rng), rng.choice(["view", "click"])) for _ in range(3)]
    items = [
        Scored(_text(rng), _score(rng), rng.choice([None, *recent]))  # shared Because objects
        for _ in range(n_items)
    ]
    return RecList(
        user_id=_text(rng),
        items=items,
        trigger=rng.choice(["cold_start", "drift", "refresh", "request"]),
        drift=rng.uniform(0, 2),
        model_version=_text(rng),
        event_id=rng.choice([None, _text(rng)]),
        event_ts=rng.choice([None, 1.8e9 + rng.random(), 1700000000.5]),
        ref=rng.choice([None, 3]),
    )


@pytest.mark.parametrize("seed", range(5))
def test_list_json_bytes_equal_encode_json_of_to_json(seed: int) -> None:
    rng = random.Random(seed)
    for n_items in (0, 1, 10, 25):
        rec = _list(rng, n_items)
        ts = rng.choice([1.0, 1.8e9 + rng.random()])
        assert list_json_bytes(rec, ts) == encode_json(rec.to_json(ts))
        assert rec.to_json_bytes(ts) == list_json_bytes(rec, ts)


def test_list_json_bytes_take_the_plain_path_for_unexpected_values() -> None:
    rng = random.Random(7)
    rec = _list(rng, 4)
    ints = rec._replace(items=[Scored("a", 1, None)], event_ts=1_800_000_000)  # type: ignore[arg-type]
    assert list_json_bytes(ints, 2.0) == encode_json(ints.to_json(2.0))
    assert b'"score":1,' in list_json_bytes(ints, 2.0)  # an int stays an int, as json writes it
    for bad in (rec._replace(drift=math.nan), rec._replace(event_ts=math.inf)):
        with pytest.raises(ValueError, match="JSON compliant"):
            encode_json(bad.to_json(1.0))
        with pytest.raises(ValueError, match="JSON compliant"):
            list_json_bytes(bad, 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_stack_rows_equals_np_stack(dtype: type) -> None:
    rows = [np.random.default_rng(n).standard_normal(6).astype(dtype) for n in range(5)]
    got = stack_rows(rows)
    want = np.stack(rows)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    got[0, 0] = 99  # a new array, not a view of a row
    assert rows[0][0] != 99


def test_stack_rows_refuses_what_np_stack_refuses() -> None:
    with pytest.raises(ValueError):
        stack_rows([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError):
        stack_rows([])
    with pytest.raises(ValueError):
        stack_rows([np.zeros((1, 3)), np.zeros((1, 3))])  # not 1-D


def _reference_top_k(
    index: ItemIndex[None], queries: list[Query], k: int
) -> list[list[tuple[str, float]]]:
    """The ranking as it was written before issue 15's work, one query at a time: the row's
    excluded items to -inf, an arg-partition of that row, then its finite candidates sorted by
    the key (-score, item id)."""
    scores = dot_scores(np.stack([q.interest for q in queries]), index.matrix)  # (B, N)
    ids = index.ids
    out = []
    for b, q in enumerate(queries):
        row = scores[b].copy()
        row[[ids.index(i) for i in q.exclude if i in index]] = -np.inf
        kk = min(k, len(ids))
        part = np.argpartition(-row, kk - 1)[:kk]
        vals = row[part]
        ok = np.isfinite(vals)
        cand = [(v, ids[r]) for v, r in zip(vals[ok].tolist(), part[ok].tolist(), strict=True)]
        cand.sort(key=lambda t: (-t[0], t[1]))
        out.append([(i, s) for s, i in cand])
    return out


def test_top_k_orders_ties_by_id_like_the_plain_sort() -> None:
    rng = np.random.default_rng(3)
    # Many exact ties: vectors from a few values, in a shuffled id order.
    vecs = rng.choice([-1.0, 0.0, 1.0], size=(40, 4)).astype(np.float32)
    order = rng.permutation(40)
    index = items_from([(f"i{j:02d}", vecs[j]) for j in order], dim=4)
    queries = [
        Query(
            rng.choice([0.0, 1.0], size=4).astype(np.float32),
            frozenset(f"i{j:02d}" for j in rng.choice(40, int(rng.integers(0, 40)), replace=False)),
            (),
        )
        for _ in range(30)
    ]
    lists = index.top_k(queries, k=8)
    assert sum(len(got) < 8 for got in lists) >= 3  # some lists cut short by exclusions
    for got, want in zip(lists, _reference_top_k(index, queries, 8), strict=True):
        assert [(s.item_id, s.score) for s in got] == want


def test_top_k_leaves_out_non_finite_scores() -> None:
    index = items_from([("a", np.array([1.0, 0.0], np.float32)), ("b", np.ones(2, np.float32))], 2)
    q = Query(np.array([np.inf, 0.0], np.float32), frozenset(), ())  # a: inf, b: inf + 0
    assert index.top_k([q], k=2) == [[]]
    nan_q = Query(np.array([1.0, np.nan], np.float32), frozenset(), ())
    ok = Query(np.array([1.0, 0.0], np.float32), frozenset(), ())
    got = index.top_k([nan_q, ok], k=2)
    assert got[0] == [] and [s.item_id for s in got[1]] == ["a", "b"]


def test_profile_apply_and_batched_rounding_equal_the_plain_path() -> None:
    rng = np.random.default_rng(5)
    plain = UserProfile("u", "m", np.zeros(6, np.float32), 4, window=3)
    fast = UserProfile("u", "m", np.zeros(6, np.float32), 4, window=3)
    interests = rng.standard_normal((12, 4)).astype(np.float32)
    rounded = interests.astype(np.float16).astype(np.float32)  # as the engine does per batch
    for n in range(12):
        event = RecentEvent(f"e{n}", f"i{n % 4}" if n % 3 else None, "view", 1e9 + n)
        state = rng.standard_normal(6).astype(np.float32)
        long_term = rng.standard_normal(4).astype(np.float32)
        drift = float(rng.uniform(0, 1))
        plain.update(Applied(event, "ev:0", n, state, long_term, interests[n], drift))
        fast.apply(event, "ev:0", n, state, long_term, interests[n], drift)
        if n % 2 == 0:
            plain.mark_published(1e9 + n)
            fast.mark_published(1e9 + n, rounded[n])
    assert fast.to_bytes() == plain.to_bytes()
    interests[:] = 0  # the profile copied what it was given
    rounded[:] = 0
    assert fast.to_bytes() == plain.to_bytes()


def _rows(rng: random.Random, n: int) -> list[tuple[str, int, str | None, float]]:
    out: list[tuple[str, int, str | None, float]] = []
    for _ in range(n):
        second = rng.choice([None, _text(rng)])
        tag = rng.randrange(0x80) | (0x80 if second is not None else 0)
        out.append((_text(rng), tag, second, rng.choice([0.0, 1.8e9 + rng.random(), -1.5])))
    return out


def _field_by_field(rows: list[tuple[str, int, str | None, float]]) -> bytes:
    w = Writer()
    for first, tag, second, number in rows:
        w.text(first)
        w.u8(tag)
        if second is not None:
            w.text(second)
        w.f64(number)
    return w.getvalue()


@pytest.mark.parametrize("seed", range(4))
def test_tagged_rows_write_and_read_what_field_by_field_does(seed: int) -> None:
    rows = _rows(random.Random(seed), 25)
    w = Writer()
    w.tagged_rows(rows)
    raw = w.getvalue()
    assert raw == _field_by_field(rows)
    r = Reader(raw + b"\x07")
    assert r.tagged_rows(len(rows), 0x80) == rows
    assert r.u8() == 7  # the reader stopped right after the rows
    r.done()


def test_tagged_rows_reader_refuses_what_field_by_field_refuses() -> None:
    rows = _rows(random.Random(9), 6)
    raw = _field_by_field(rows)
    for cut in range(len(raw)):  # every truncation
        with pytest.raises(ProfileError, match="truncated profile"):
            Reader(raw[:cut]).tagged_rows(len(rows), 0x80)
    bad = Writer()
    bad.blob(b"\xff\xfe")  # a length-prefixed string that is not UTF-8
    bad.u8(0)
    bad.f64(1.0)
    with pytest.raises(ProfileError, match="not UTF-8"):
        Reader(bad.getvalue()).tagged_rows(1, 0x80)
    with pytest.raises(ProfileError, match="does not fit"):
        Writer().tagged_rows([("x" * 70_000, 0, None, 0.0)])


def test_profile_bytes_equal_the_field_by_field_window() -> None:
    rng = np.random.default_rng(2)
    p = UserProfile("ü", "m", np.zeros(6, np.float32), 4, window=8)
    for n in range(11):
        item = f"i{n}é" if n % 3 else None
        event = RecentEvent(f"e{n}", item, ["view", "click", "search"][n % 3], 1e9 + n / 3)
        vec = rng.standard_normal(4).astype(np.float32)
        p.apply(event, "ev:0", n, np.zeros(6, np.float32), vec, vec, 0.1)
    raw = p.to_bytes()
    window = [
        (e.event_id, ACTIONS.index(e.action) | (0x80 if e.item_id else 0), e.item_id, e.ts)
        for e in p.recent
    ]
    assert _field_by_field(window) in raw  # the window section, as written field by field
    back = UserProfile.from_bytes(raw)
    assert list(back.recent) == list(p.recent) and back.to_bytes() == raw
