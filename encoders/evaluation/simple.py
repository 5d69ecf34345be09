"""Simple ID baselines that are hard to beat on retail and media logs: item-to-item co-occurrence
kNN and repeat/recency. Both are stream models (:class:`~encoders.evaluation.base.StreamModel`)
built from the split's training events only; neither is tuned to a data set (the constants
below are fixed, documented choices).

* ``cooc-knn``: items that occur near each other in users' training sequences are neighbours
  (the statistic of :mod:`encoders.cooccurrence`, pairs at most ``window`` (5) positions apart),
  each item keeping its ``top_k`` (100) strongest neighbours. A user's score for item j is
  ``sum_k decay**k * sim(last_k, j)`` over the ``n_last`` (5) most recent items (k = 0 newest,
  ``decay`` 0.7).
* ``repeat``: the user's own items, ranked by recency-weighted frequency: ``sum over the user's
  last ``window`` (200) item events of ``decay**age`` (0.98; age 0 = the latest event)``. It only
  makes sense where repeats count (the unmasked protocol); under the masked protocol it falls
  back to its tie-break.

Ties: both add ``1e-6 x`` the item's normalised training popularity, so items the rule says
nothing about are ranked by popularity rather than tied last (pessimistic ties).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from encoders.cooccurrence import neighbours
from encoders.evaluation.base import (
    F32,
    EvaluationError,
    ItemIndex,
    push_recent_items,
    recent_items_states,
)
from streams.messages.records import BehaviourEvent

TIE_BREAK = 1e-6


def _popularity(catalog: ItemIndex, train_events: Sequence[BehaviourEvent]) -> F32:
    counts = np.zeros(len(catalog), dtype=np.float32)
    for e in train_events:
        if e.item_id is not None:
            counts[catalog.of(e.item_id)] += 1.0
    out: F32 = counts / max(float(counts.max(initial=0.0)), 1.0)
    return out


class _LastItems:
    """State: catalog indices of the last ``size`` item events, newest first (-1 = empty)."""

    name: str
    state_dim: int

    def __init__(self, catalog: ItemIndex, size: int) -> None:
        if size < 1:
            raise EvaluationError(f"history size must be >= 1, got {size}")
        self.catalog = catalog
        self.state_dim = size

    def initial_states(self, n: int) -> F32:
        return recent_items_states(n, self.state_dim)

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        return push_recent_items(self.catalog, states, events)

    def interest(self, states: F32) -> F32:
        return states  # the scores are computed from the item indices themselves


class CoocKNN(_LastItems):
    name = "cooc-knn"

    def __init__(
        self,
        catalog: ItemIndex,
        train_events: Sequence[BehaviourEvent],
        *,
        window: int = 5,
        top_k: int = 100,
        n_last: int = 5,
        decay: float = 0.7,
    ) -> None:
        super().__init__(catalog, n_last)
        self.weights = decay ** np.arange(n_last, dtype=np.float32)  # (L,)
        self.pop = _popularity(catalog, train_events)
        self.nbr, self.sim = neighbours(catalog.index, train_events, window, top_k)  # (N, K) each

    def scores(self, interests: F32) -> F32:
        idx = interests.astype(np.int64)  # (B, L)
        out = np.tile(TIE_BREAK * self.pop, (len(idx), 1))  # (B, N)
        rows, cols = np.nonzero(idx >= 0)
        items = idx[rows, cols]
        k = self.nbr.shape[1]
        contrib = self.weights[cols][:, None] * self.sim[items]  # (P, K)
        np.add.at(out, (np.repeat(rows, k), self.nbr[items].ravel()), contrib.ravel())
        return out


class RepeatRecency(_LastItems):
    name = "repeat"

    def __init__(
        self,
        catalog: ItemIndex,
        train_events: Sequence[BehaviourEvent],
        *,
        window: int = 200,
        decay: float = 0.98,
    ) -> None:
        super().__init__(catalog, window)
        self.weights = decay ** np.arange(window, dtype=np.float32)  # (W,)
        self.pop = _popularity(catalog, train_events)

    def scores(self, interests: F32) -> F32:
        idx = interests.astype(np.int64)  # (B, W)
        out = np.tile(TIE_BREAK * self.pop, (len(idx), 1))  # (B, N)
        rows, cols = np.nonzero(idx >= 0)
        np.add.at(out, (rows, idx[rows, cols]), self.weights[cols])
        return out
