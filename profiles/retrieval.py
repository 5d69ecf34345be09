"""The in-memory item matrix and batched top-K retrieval with exclusion and ``because``.

:class:`ItemIndex` keeps every item's retrieval vector in one preallocated (capacity, D) float32
matrix, updated in place as items arrive or are deleted (swap-remove), plus each item's full
payload (whatever the model needs, e.g. its fused features). Retrieval of B users is one matrix
product (B, D) x (D, N) -> (B, N) (``score`` is injectable so the model can run it on its device),
raised by per-query boosts (e.g. a learned repeat bonus), blended per query with co-occurrence
scores when the model has a table (:mod:`profiles.cooc`; :func:`adjust_row` is the one place that
does both, also for the offline evaluation), masked for excluded items, then an arg-partition for
the top K of each row. A query may also carry a probabilistic exclusion (a
Bloom filter of consumed items): it is checked on candidates in score order only, so its cost is
O(K + false positives + consumed items among the best), not O(N).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from operator import itemgetter
from types import MappingProxyType
from typing import Generic, NamedTuple, TypeVar

import numpy as np

from profiles.cooc import CoocBlend, blend_row
from profiles.rows import stack_rows

P = TypeVar("P")
#: What a named tuple's generated ``__new__`` calls: ``_new(Scored, (item_id, score, because))``
#: builds a ``Scored`` without that extra Python frame (retrieval builds K per list).
_new = tuple.__new__
ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def dot_scores(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Inner product: users (B, D) x items (N, D) -> (B, N)."""
    return np.asarray(users @ items.T, dtype=np.float32)


class Because(NamedTuple):
    """The recent behaviour a listed item is closest to (a named tuple: cheap to build, and
    retrieval builds one per recent event picked)."""

    event_id: str
    item_id: str
    action: str

    def to_json(self) -> dict[str, str]:
        return {"event_id": self.event_id, "item_id": self.item_id, "action": self.action}


class Scored(NamedTuple):
    """One listed item (a named tuple: retrieval builds K of them per list, and a frozen
    dataclass costs about twice as much to build)."""

    item_id: str
    score: float
    because: Because | None

    def to_json(self) -> dict[str, object]:
        return {
            "item_id": self.item_id,
            "score": round(self.score, 6),
            "because": None if self.because is None else self.because.to_json(),
        }


class Query(NamedTuple):
    """One retrieval request: an interest, items to leave out, and recent events for ``because``
    (a named tuple: the engine builds one per list)."""

    interest: np.ndarray  # (D,)
    exclude: frozenset[str]
    recent: Sequence[tuple[str, str, str]]  # (event_id, item_id, action), oldest first
    #: Items probably to leave out too (membership only, e.g. a Bloom filter); None = none.
    maybe_exclude: Container[str] | None = None
    #: Added to these items' scores before ranking (e.g. the model's repeat bonus).
    boost: Mapping[str, float] = MappingProxyType({})
    #: Co-occurrence scores of the user's recent items and their weight; None = model alone.
    cooc: CoocBlend | None = None


def repeat_boost(recent: Sequence[str | None], bonus: np.ndarray | None) -> dict[str, float]:
    """The repeat bonus per item: ``recent`` item ids newest first (None: an item-less event),
    ``bonus[k]`` for the item of the event k back (an item's newest occurrence counts)."""
    boost: dict[str, float] = {}
    if bonus is None:
        return boost
    for k, item_id in enumerate(recent[: len(bonus)]):
        if item_id is not None and item_id not in boost:
            boost[item_id] = float(bonus[k])
    return boost


def adjust_row(
    row: np.ndarray,
    boost: Mapping[str, float],
    cooc: CoocBlend | None,
    row_of: Mapping[str, int],
) -> np.ndarray:
    """One user's model scores over the catalog (N,) as served: ``boost`` added, then (with
    ``cooc``) ``standardise(row) + w * standardise(co-occurrence row)``; items ``row_of`` does not
    know are ignored. Exclusion comes after, on the returned row."""
    out = np.array(row, dtype=np.float32)
    for item_id, bonus in boost.items():
        ix = row_of.get(item_id)
        if ix is not None:
            out[ix] += bonus
    if cooc is None:
        return out
    known = [(row_of[i], v) for i, v in cooc.scores.items() if i in row_of]
    return blend_row(out, [c for c, _ in known], [v for _, v in known], cooc.weight)


class ItemIndex(Generic[P]):
    """Item vectors (N, D) for retrieval, with per-item payloads; incremental upserts/deletes."""

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self._matrix = np.zeros((max(capacity, 1), dim), dtype=np.float32)  # (capacity, D)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._payload: dict[str, P] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row

    @property
    def matrix(self) -> np.ndarray:
        """The live rows (N, D), a view: do not keep it across updates."""
        return self._matrix[: len(self._ids)]

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def payload(self, item_id: str) -> P | None:
        return self._payload.get(item_id)

    def vector(self, item_id: str) -> np.ndarray | None:
        row = self._row.get(item_id)
        return None if row is None else self._matrix[row]

    def upsert(self, item_id: str, vec: np.ndarray, payload: P) -> None:
        """Insert or replace one item."""
        vec = np.asarray(vec, dtype=np.float32).reshape(-1)  # (D,)
        if vec.shape != (self.dim,):
            raise ValueError(f"item {item_id!r}: vector shape {vec.shape}, want ({self.dim},)")
        row = self._row.get(item_id)
        if row is None:
            row = len(self._ids)
            if row == self._matrix.shape[0]:
                grown = np.zeros((2 * row, self.dim), dtype=np.float32)
                grown[:row] = self._matrix
                self._matrix = grown
            self._ids.append(item_id)
            self._row[item_id] = row
        self._matrix[row] = vec
        self._payload[item_id] = payload

    def delete(self, item_id: str) -> bool:
        """Remove one item (the last row moves into its place); False when it was absent."""
        row = self._row.pop(item_id, None)
        if row is None:
            return False
        del self._payload[item_id]
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._matrix[row] = self._matrix[last]
            self._ids[row] = moved
            self._row[moved] = row
        self._ids.pop()
        return True

    def top_k(
        self, queries: Sequence[Query], k: int, score: ScoreFn = dot_scores
    ) -> list[list[Scored]]:
        """Top ``k`` items for each query, best first, excluded items left out."""
        n = len(self._ids)
        if not queries or n == 0 or k < 1:
            return [[] for _ in queries]
        users = stack_rows([q.interest for q in queries]).astype(np.float32)  # (B, D)
        scores = np.array(score(users, self.matrix), dtype=np.float32)  # (B, N)
        row_of = self._row
        # Excluded cells of every query, set to -inf in one assignment after the adjustments
        # (each row's adjustment reads that row only).
        ex_q: list[int] = []
        ex_rows: list[int] = []
        for b, q in enumerate(queries):
            if q.boost or q.cooc is not None:
                scores[b] = adjust_row(scores[b], q.boost, q.cooc, row_of)
            rows = [row_of[i] for i in q.exclude if i in row_of]
            ex_q.extend([b] * len(rows))
            ex_rows.extend(rows)
        if ex_rows:
            scores[ex_q, ex_rows] = -np.inf
        kk = min(k, n)
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]  # (B, kk) unordered
        # The candidates' scores of all queries in one gather and one conversion to Python.
        vals = np.take_along_axis(scores, part, axis=1)  # (B, kk)
        finite: list[bool] = np.logical_and.reduce(np.isfinite(vals), axis=1).tolist()  # (B,)
        vals_l: list[list[float]] = vals.tolist()
        part_l: list[list[int]] = part.tolist()
        listed = [
            self._ordered(vals_l[b], part_l[b], finite[b])
            if q.maybe_exclude is None
            else self._ranked_filtered(scores[b], k, q.maybe_exclude)
            for b, q in enumerate(queries)
        ]
        return self._explain(listed, queries)

    def _ordered(
        self, vals: list[float], rows: list[int], all_finite: bool = False
    ) -> list[tuple[float, str, int]]:
        """(score, id, row) of ``rows`` (scores ``vals``) with finite scores, best first, ties
        broken by item id (equal inputs give identical lists)."""
        ids = self._ids
        if all_finite:
            cand = [(v, ids[r], r) for v, r in zip(vals, rows, strict=True)]
        else:
            cand = [(v, ids[r], r) for v, r in zip(vals, rows, strict=True) if math.isfinite(v)]
        # Two stable sorts (id ascending, then score descending) give the order of the key
        # (-score, id) without building a key tuple per candidate.
        cand.sort(key=itemgetter(1))
        cand.sort(key=itemgetter(0), reverse=True)
        return cand

    def _ranked(self, row: np.ndarray, rows: np.ndarray) -> list[tuple[float, str, int]]:
        """:meth:`_ordered` of ``rows`` of one query's score ``row``."""
        ix = np.asarray(rows, dtype=np.int64)
        return self._ordered(row[ix].tolist(), ix.tolist())

    def _ranked_filtered(
        self, row: np.ndarray, k: int, maybe: Container[str]
    ) -> list[tuple[float, str, int]]:
        """The top ``k`` of ``row`` whose ids are not in ``maybe``: candidates are taken in score
        order, twice as many each round, until k survive or the row is exhausted."""
        n = len(self._ids)
        take = min(n, 2 * k)
        while True:
            rows = np.argpartition(-row, take - 1)[:take] if take < n else np.arange(n)
            cand = self._ranked(row, rows)
            kept = [c for c in cand if c[1] not in maybe]
            if len(kept) >= k or take >= n or len(cand) < take:
                # Ties at the cut are settled by id among the candidates taken: with exact ties
                # straddling the cut this may differ from a full sort, never in score order.
                return kept[:k]
            take = min(n, 4 * take)

    def _explain(
        self, lists: list[list[tuple[float, str, int]]], queries: Sequence[Query]
    ) -> list[list[Scored]]:
        """Each listed item with the recent event whose item is closest (cosine), for all queries
        at once: (Q, K, D) listed rows against (Q, W, D) recent rows in one product."""
        row_of = self._row
        recents = [[r for r in q.recent if r[1] in row_of] for q in queries]
        need = [b for b, listed in enumerate(lists) if listed and recents[b]]
        out: list[list[Scored]] = [[] for _ in lists]
        needed = set(need)
        for b, listed in enumerate(lists):
            if b not in needed:  # the others are built once, with their ``because``, below
                out[b] = [_new(Scored, (i, s, None)) for s, i, _ in listed]
        if not need:
            return out
        lst_rows = [[t[2] for t in lists[b]] for b in need]
        rec_rows = [[row_of[r[1]] for r in recents[b]] for b in need]
        k = max(map(len, lst_rows))
        w = max(map(len, rec_rows))
        # One array call per side (rows padded with row 0, masked below), not one per query.
        lst_ix = np.array([r + [0] * (k - len(r)) for r in lst_rows], dtype=np.int64)
        rec_ix = np.array([r + [0] * (w - len(r)) for r in rec_rows], dtype=np.int64)
        valid = np.arange(w)[None, :] < np.array(list(map(len, rec_rows)))[:, None]  # (Q, W)
        lst, rec = self._matrix[lst_ix], self._matrix[rec_ix]  # (Q, K, D), (Q, W, D)
        lst = lst / np.maximum(np.linalg.norm(lst, axis=-1, keepdims=True), 1e-12)
        rec = rec / np.maximum(np.linalg.norm(rec, axis=-1, keepdims=True), 1e-12)
        sims = np.einsum("qkd,qwd->qkw", lst, rec)  # (Q, K, W)
        sims[~np.broadcast_to(valid[:, None, :], sims.shape)] = -np.inf
        # Among equally close events prefer the most recent one (argmax over reversed columns).
        best = (w - 1 - np.argmax(sims[:, :, ::-1], axis=2)).tolist()  # (Q, K)
        for j, b in enumerate(need):
            recent = recents[b]
            listed = lists[b]
            picks = best[j][: len(listed)]
            # One Because per recent event, shared by the items it explains.
            because = {wi: Because(*recent[wi]) for wi in set(picks)}
            out[b] = [
                _new(Scored, (i, s, because[wi]))
                for (s, i, _), wi in zip(listed, picks, strict=True)
            ]
        return out


def items_from(pairs: Iterable[tuple[str, np.ndarray]], dim: int) -> ItemIndex[None]:
    """An index built from (item_id, vector) pairs (tests, tools)."""
    index: ItemIndex[None] = ItemIndex(dim)
    for item_id, vec in pairs:
        index.upsert(item_id, vec, None)
    return index
