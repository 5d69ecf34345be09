"""A tiny deterministic stand-in for encoders.serving.ServingModel (same contract, numpy only).

Items get vectors from their category (a fixed direction per category plus a small per-item
offset), and the "LSTM" moves h halfway towards each consumed item: simple enough that tests can
say what the interest should be, while the pipeline code paths are the real ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch

from profiles.contracts import ItemEmbedding, StepEvent
from profiles.cooc import CoocBlend, CoocTable
from streams.messages.records import ItemRecord

D = 8


def _unit(seed: str) -> np.ndarray:
    rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
    v = rng.standard_normal(D).astype(np.float32)
    return v / np.linalg.norm(v)


class FakeModel:
    """Contract-compatible model: ``embed_items``, ``step``, ``update_long_term``, ..."""

    def __init__(self, version: str = "fake-1") -> None:
        self.version = version
        self.dim = D
        self.state_dim = 2 * D
        self.feature_dim = D
        self.device = torch.device("cpu")
        self.text_cache_hits = 0
        self.text_cache_misses = 0
        self.steps = 0
        self.sequence_calls = 0

    def embed_items(self, items: Sequence[ItemRecord]) -> list[ItemEmbedding]:
        out = []
        for item in items:
            vec = _unit(item.category or item.item_id) + 0.1 * _unit(item.item_id)
            vec = (vec / np.linalg.norm(vec)).astype(np.float32)
            out.append(ItemEmbedding(item.item_id, vec.copy(), vec))
            self.text_cache_misses += 1
        return out

    def initial_state(self) -> np.ndarray:
        return np.zeros(self.state_dim, np.float32)

    def step(
        self, states: np.ndarray, events: Sequence[StepEvent]
    ) -> tuple[np.ndarray, np.ndarray]:
        self.steps += 1
        h = states[:, :D].copy()  # (B, D)
        for b, e in enumerate(events):
            x = e.item.vec if e.item is not None else _unit(e.text or "")
            h[b] = 0.5 * h[b] + 0.5 * x
        out = states.copy()
        out[:, :D] = h
        out[:, D:] += 1.0  # "c": counts steps, so states differ from h
        return out, h

    def step_sequences(
        self, states: np.ndarray, events: Sequence[Sequence[StepEvent]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Round by round through :meth:`step` (so overrides of ``step`` see every event)."""
        self.sequence_calls += 1
        states = states.copy()
        h_rows: dict[tuple[int, int], np.ndarray] = {}
        for r in range(max((len(seq) for seq in events), default=0)):
            rows = [u for u, seq in enumerate(events) if len(seq) > r]
            states[rows], h = self.step(states[rows], [events[u][r] for u in rows])
            for b, u in enumerate(rows):
                h_rows[(u, r)] = h[b]
        flat = [h_rows[(u, r)] for u, seq in enumerate(events) for r in range(len(seq))]
        return states, np.stack(flat).astype(np.float32)

    def update_long_term(self, long: np.ndarray, count: np.ndarray, h: np.ndarray) -> np.ndarray:
        n = count.astype(np.float32)[:, None]  # (B, 1)
        return ((long * n + h) / (n + 1)).astype(np.float32)

    attention_window = 0

    def repeat_bonus(self) -> np.ndarray | None:
        return None

    #: A co-occurrence table and weight to serve with (tests of the hybrid set them).
    cooc: CoocTable | None = None
    cooc_weight = 0.0

    def cooccurrence(self, recent: Sequence[str | None]) -> CoocBlend | None:
        if self.cooc is None or self.cooc_weight == 0:
            return None
        return CoocBlend(self.cooc_weight, self.cooc.scores(recent))

    def served_interest(
        self,
        h: np.ndarray,
        long: np.ndarray,
        window: np.ndarray | None = None,
        window_mask: np.ndarray | None = None,
    ) -> np.ndarray:
        mix = 0.8 * h + 0.2 * long
        return (mix / np.maximum(np.linalg.norm(mix, axis=1, keepdims=True), 1e-12)).astype(
            np.float32
        )

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (users @ items.T).astype(np.float32)


def catalog(categories: dict[str, int]) -> list[ItemRecord]:
    """Items ``<cat>-<n>`` for each category and count."""
    return [
        ItemRecord(item_id=f"{cat}-{n}", title=f"{cat} item {n}", category=cat)
        for cat, count in categories.items()
        for n in range(count)
    ]
