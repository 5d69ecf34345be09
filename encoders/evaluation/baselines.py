"""Honest baselines as stream models: popularity, text neighbours of the last items, and the
static profile (mean of the history's text vectors, the "before" of dynamic interest capture).

Text vectors are L2-normalised (``ItemIndex`` order). None of these is tuned against driftrec:
each is the textbook version with one documented knob.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from encoders.evaluation.base import (
    F32,
    EvaluationError,
    ItemIndex,
    TextEncodeFn,
    push_recent_items,
    recent_items_states,
)
from streams.messages.records import BehaviourEvent


class Popularity:
    """Score = how often the item occurs in the training events; the same list for everyone."""

    name = "pop"
    state_dim = 0

    def __init__(self, catalog: ItemIndex, train_events: Sequence[BehaviourEvent]) -> None:
        counts = Counter(e.item_id for e in train_events if e.item_id is not None)
        self._counts = np.array([counts.get(i, 0) for i in catalog.ids], dtype=np.float32)  # (N,)

    def initial_states(self, n: int) -> F32:
        return np.zeros((n, 0), dtype=np.float32)

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        return states

    def interest(self, states: F32) -> F32:
        return np.ones((states.shape[0], 1), dtype=np.float32)  # (B, 1)

    def scores(self, interests: F32) -> F32:
        return interests * self._counts[None, :]  # (B, N)


class _TextModel:
    def __init__(self, catalog: ItemIndex, item_vecs: F32) -> None:
        if item_vecs.shape[0] != len(catalog):
            raise EvaluationError(f"{item_vecs.shape[0]} item vectors for {len(catalog)} items")
        self.catalog = catalog
        self.item_vecs = np.ascontiguousarray(item_vecs, dtype=np.float32)  # (N, D)
        self.dim = int(item_vecs.shape[1])

    def scores(self, interests: F32) -> F32:
        return interests @ self.item_vecs.T  # (B, N): cosine up to the user vector's norm


class StaticProfile(_TextModel):
    """Interest = mean of the text vectors of everything in the history: item texts for item
    events, the encoded free text for text-only events (a search). It never forgets, so after an
    interest switch the old topic keeps its weight: the static baseline driftrec must beat."""

    name = "static-profile"

    def __init__(self, catalog: ItemIndex, item_vecs: F32, encode: TextEncodeFn | None) -> None:
        super().__init__(catalog, item_vecs)
        self.encode = encode
        self.state_dim = self.dim + 1  # running sum (D) and count (1)

    def initial_states(self, n: int) -> F32:
        return np.zeros((n, self.state_dim), dtype=np.float32)

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        vecs = np.zeros((len(events), self.dim), dtype=np.float32)  # (B, D)
        used = np.zeros(len(events), dtype=np.float32)
        texts = [(r, e.text) for r, e in enumerate(events) if e.item_id is None and e.text]
        for r, e in enumerate(events):
            if e.item_id is not None:
                vecs[r], used[r] = self.item_vecs[self.catalog.of(e.item_id)], 1.0
        if texts and self.encode is not None:
            encoded = self.encode([t for _, t in texts])  # (T, D)
            for (r, _), vec in zip(texts, encoded, strict=True):
                vecs[r], used[r] = vec, 1.0
        out = states.copy()
        out[:, : self.dim] += vecs
        out[:, self.dim] += used
        return out

    def interest(self, states: F32) -> F32:
        count = np.maximum(states[:, self.dim : self.dim + 1], 1.0)
        return (states[:, : self.dim] / count).astype(np.float32)  # (B, D)


class ItemKNNText(_TextModel):
    """Score = mean cosine between an item's text vector and the last ``n_last`` items of the
    history (item-to-item text neighbours of what the user just touched)."""

    name = "itemknn-text"

    def __init__(self, catalog: ItemIndex, item_vecs: F32, n_last: int = 3) -> None:
        super().__init__(catalog, item_vecs)
        if n_last < 1:
            raise EvaluationError(f"n_last must be >= 1, got {n_last}")
        self.n_last = n_last
        self.state_dim = n_last  # catalog indices of the last items, newest first; -1 = empty

    def initial_states(self, n: int) -> F32:
        return recent_items_states(n, self.n_last)

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        return push_recent_items(self.catalog, states, events)

    def interest(self, states: F32) -> F32:
        idx = states.astype(np.int64)  # (B, L); float32 holds indices exactly below 2**24
        present = (idx >= 0).astype(np.float32)  # (B, L)
        vecs = self.item_vecs[np.maximum(idx, 0)] * present[..., None]  # (B, L, D)
        mean = vecs.sum(axis=1) / np.maximum(present.sum(axis=1, keepdims=True), 1.0)  # (B, D)
        return np.asarray(mean, dtype=np.float32)
