"""The item-to-item co-occurrence statistic, shared by the ``cooc-knn`` baseline
(:mod:`encoders.evaluation.simple`) and the table the served hybrid reads
(:class:`profiles.cooc.CoocTable`, built here at training time).

For every pair of item events at most ``window`` positions apart in one user's training sequence,
both directions get ``1 / distance``; an item is not its own neighbour. The sums are normalised
like a cosine, ``c(a, b) / sqrt(n(a) n(b))`` with ``n`` the item's training count, and each item
keeps its ``top`` strongest neighbours (ties: the lower catalog index first).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from encoders.data.split import group_by_user
from profiles.cooc import CoocTable
from streams.messages.records import BehaviourEvent

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

#: Pair window, neighbours kept per item in the served table, recent items read, their decay.
WINDOW = 5
TOP_M = 50
N_LAST = 5
DECAY = 0.7


def pair_scores(
    index: dict[str, int], train_events: Sequence[BehaviourEvent], window: int
) -> tuple[I64, I64, npt.NDArray[np.float64]]:
    """Every co-occurring pair ``(a, b, similarity)``, sorted by ``a`` then strongest first
    (then by ``b``); indices are positions in ``index`` (item id -> row)."""
    n = len(index)
    keys: list[I64] = []
    vals: list[npt.NDArray[np.float64]] = []
    counts = np.zeros(n, dtype=np.float64)
    for seq in group_by_user(train_events).values():
        s = np.array([index[e.item_id] for e in seq if e.item_id is not None], np.int64)
        np.add.at(counts, s, 1.0)
        for d in range(1, min(window, len(s) - 1) + 1):
            a, b = s[:-d], s[d:]
            keep = a != b
            a, b = a[keep], b[keep]
            keys += [a * n + b, b * n + a]
            vals += [np.full(len(a), 1.0 / d)] * 2
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    uniq, inv = np.unique(np.concatenate(keys), return_inverse=True)
    total = np.bincount(inv, weights=np.concatenate(vals))
    a, b = uniq // n, uniq % n
    score = total / np.sqrt(counts[a] * counts[b])
    order = np.lexsort((-score, a))  # by item, strongest first (stable: then by b)
    return a[order], b[order], score[order]


def top_pairs(a: I64, n: int, top: int) -> tuple[I64, npt.NDArray[np.bool_]]:
    """For pairs sorted by ``a``: each pair's rank within its item and whether it is kept."""
    starts = np.searchsorted(a, np.arange(n))
    rank = np.arange(len(a)) - starts[a]
    return rank, rank < top


def neighbours(
    index: dict[str, int], train_events: Sequence[BehaviourEvent], window: int, top_k: int
) -> tuple[I64, F32]:
    """Each item's ``top_k`` neighbours ``(N, K)`` and their similarities (0 where none)."""
    n = len(index)
    nbr = np.zeros((n, top_k), dtype=np.int64)
    sim = np.zeros((n, top_k), dtype=np.float32)
    a, b, score = pair_scores(index, train_events, window)
    rank, keep = top_pairs(a, n, top_k)
    nbr[a[keep], rank[keep]] = b[keep]
    sim[a[keep], rank[keep]] = score[keep]
    return nbr, sim


def build_table(
    item_ids: Sequence[str],
    train_events: Sequence[BehaviourEvent],
    *,
    top: int = TOP_M,
    window: int = WINDOW,
    n_last: int = N_LAST,
    decay: float = DECAY,
) -> CoocTable:
    """The served neighbour table of ``item_ids`` from ``train_events`` (deterministic)."""
    if top < 1 or window < 1:
        raise ValueError(f"need top >= 1 and window >= 1, got {top}, {window}")
    index = {item_id: i for i, item_id in enumerate(item_ids)}
    n = len(index)
    a, b, score = pair_scores(index, train_events, window)
    _, keep = top_pairs(a, n, top)
    a, b, score = a[keep], b[keep], score[keep]
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(np.bincount(a, minlength=n))
    return CoocTable(
        item_ids=tuple(item_ids),
        indptr=indptr,
        indices=b.astype(np.int32),
        weights=score.astype(np.float32),
        n_last=n_last,
        decay=decay,
        params={"top": top, "window": window},
    )
