"""driftrec itself as a :class:`~encoders.evaluation.base.StreamModel`, through exactly the calls
the streaming pipeline makes on :class:`encoders.serving.ServingModel`: ``embed_items`` once,
then per event ``step`` -> ``update_long_term`` -> ``served_interest`` -> ``score``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from encoders.evaluation.base import F32, ItemIndex
from encoders.serving import ServingModel
from profiles.contracts import StepEvent
from streams.messages.records import BehaviourEvent


class DriftRecStream:
    """Per-user state row: ``[LSTM state (S) | long-term (D) | count (1) | last h (D)]``."""

    name = "driftrec"

    def __init__(self, serving: ServingModel, catalog: ItemIndex) -> None:
        self.serving = serving
        self.catalog = catalog
        self.embeddings = serving.embed_items(catalog.items)
        self.item_vecs = np.stack([e.vec for e in self.embeddings]).astype(np.float32)  # (N, D)
        s, d = serving.state_dim, serving.dim
        self._long = slice(s, s + d)
        self._count = s + d
        self._h = slice(s + d + 1, s + 2 * d + 1)
        self.state_dim = s + 2 * d + 1

    def initial_states(self, n: int) -> F32:
        states = np.zeros((n, self.state_dim), dtype=np.float32)
        states[:, : self.serving.state_dim] = self.serving.initial_state()
        return states

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        step_events = [
            StepEvent(
                action=e.action,
                gap_s=float(gap),
                item=None if e.item_id is None else self.embeddings[self.catalog.of(e.item_id)],
                text=e.text,
            )
            for e, gap in zip(events, gaps_s, strict=True)
        ]
        s = self.serving.state_dim
        new_lstm, h = self.serving.step(np.ascontiguousarray(states[:, :s]), step_events)
        count = states[:, self._count].astype(np.int64)  # (B,) events applied before this one
        long = self.serving.update_long_term(np.ascontiguousarray(states[:, self._long]), count, h)
        out = np.empty_like(states)
        out[:, :s] = new_lstm
        out[:, self._long] = long
        out[:, self._count] = count + 1
        out[:, self._h] = h
        return out

    def interest(self, states: F32) -> F32:
        h = np.ascontiguousarray(states[:, self._h])
        long = np.ascontiguousarray(states[:, self._long])
        return self.serving.served_interest(h, long)  # (B, D)

    def scores(self, interests: F32) -> F32:
        return self.serving.score(interests, self.item_vecs)  # (B, N)
