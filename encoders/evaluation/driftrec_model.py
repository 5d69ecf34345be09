"""driftrec itself as a :class:`~encoders.evaluation.base.StreamModel`, through exactly the calls
the streaming pipeline makes on :class:`encoders.serving.ServingModel`: ``embed_items`` once,
then per event ``step`` -> ``update_long_term`` -> ``served_interest`` (with the recent-event
window when the model reads one) -> ``score`` -> :func:`profiles.retrieval.adjust_row` (the learned
repeat bonus when ``repeat``, the co-occurrence blend when the model has a table): the worker's
retrieval applies the same function to the same scores, so these rankings are the served ones."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from encoders.evaluation.base import F32, ItemIndex
from encoders.serving import ServingModel
from profiles.contracts import StepEvent
from profiles.retrieval import adjust_row, repeat_boost
from streams.messages.records import BehaviourEvent


class DriftRecStream:
    """Per-user state row: ``[LSTM state (S) | long-term (D) | count (1) | last h (D) |
    catalog indices of the last W events' items, newest first (W; -1 = none)]``.

    ``interest`` returns ``[user vector (D) | the W indices]`` so that ``scores`` can add the
    repeat bonus and the co-occurrence blend; only this class reads that layout. ``repeat=False``
    (rankings that exclude the history, as the pipeline's "recent" and "consumed" policies do)
    leaves the bonus out. ``window``: the events a profile keeps (``DRIFTREC_RECENT_WINDOW``),
    from which the co-occurrence part reads its recent items, as in the worker.
    """

    name = "driftrec"

    def __init__(
        self, serving: ServingModel, catalog: ItemIndex, *, repeat: bool = True, window: int = 20
    ) -> None:
        self.serving = serving
        self.catalog = catalog
        self.embeddings = serving.embed_items(catalog.items)
        self.item_vecs = np.stack([e.vec for e in self.embeddings]).astype(np.float32)  # (N, D)
        bonus = serving.repeat_bonus()
        self.bonus = bonus if repeat else None
        s, d = serving.state_dim, serving.dim
        self.att = serving.attention_window
        self.w = max(
            self.att, 0 if bonus is None else len(bonus), window if serving.cooc is not None else 0
        )
        self._long = slice(s, s + d)
        self._count = s + d
        self._h = slice(s + d + 1, s + 2 * d + 1)
        self._win = slice(s + 2 * d + 1, s + 2 * d + 1 + self.w)
        self.state_dim = s + 2 * d + 1 + self.w

    def initial_states(self, n: int) -> F32:
        states = np.zeros((n, self.state_dim), dtype=np.float32)
        states[:, : self.serving.state_dim] = self.serving.initial_state()
        states[:, self._win] = -1.0
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
        if self.w:
            items = [-1 if e.item_id is None else self.catalog.of(e.item_id) for e in events]
            win = states[:, self._win]
            out[:, self._win] = np.concatenate(
                [np.array(items, dtype=np.float32)[:, None], win[:, :-1]], axis=1
            )
        return out

    def interest(self, states: F32) -> F32:
        h = np.ascontiguousarray(states[:, self._h])
        long = np.ascontiguousarray(states[:, self._long])
        idx = states[:, self._win].astype(np.int64)  # (B, W)
        if self.att:
            recent = idx[:, : self.att]
            window = self.item_vecs[recent.clip(min=0)] * (recent >= 0)[..., None]  # (B, W, D)
            u = self.serving.served_interest(h, long, window.astype(np.float32), recent >= 0)
        else:
            u = self.serving.served_interest(h, long)  # (B, D)
        return np.concatenate([u, idx.astype(np.float32)], axis=1)

    def scores(self, interests: F32, *, cooc_weight: float | None = None) -> F32:
        """(B, N) scores as served; ``cooc_weight`` overrides the model's blend weight."""
        d = self.serving.dim
        out = self.serving.score(np.ascontiguousarray(interests[:, :d]), self.item_vecs)  # (B, N)
        if self.bonus is None and self.serving.cooc is None:
            return out
        ids = self.catalog.ids
        for b, row in enumerate(interests[:, d:].astype(np.int64)):  # (W,) newest first
            recent = [None if i < 0 else ids[i] for i in row.tolist()]
            boost = repeat_boost(recent, self.bonus)
            cooc = self.serving.cooccurrence(recent, cooc_weight)
            out[b] = adjust_row(out[b], boost, cooc, self.catalog.index)
        return out
