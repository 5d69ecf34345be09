"""Score blending, the "gate" lever of issue 13 measured offline: a model's per-user scores
standardised over the catalog plus ``weight`` times a partner's (co-occurrence or text kNN),
``weight`` chosen on the validation split (``bench/blendgate.py``).

Standardising each user's score row (zero mean, unit deviation over the catalog) makes the weight
independent of either model's scale (driftrec: cosine / temperature; co-occurrence: sums of
similarities). :class:`FixedScores` replays precomputed score rows through
:func:`~encoders.evaluation.offline.evaluate_offline`, so a blend is ranked under exactly the
protocols every other model is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from encoders.data.split import Split, Stage
from encoders.evaluation.base import F32, StreamModel
from encoders.evaluation.offline import replay_histories
from streams.messages.records import BehaviourEvent


def standardise(scores: F32) -> F32:
    """Each row to zero mean and unit standard deviation (a constant row becomes zeros)."""
    centred = scores - scores.mean(axis=1, keepdims=True)
    std = centred.std(axis=1, keepdims=True)
    out: F32 = (centred / np.maximum(std, 1e-12)).astype(np.float32)
    return out


def blend(base: F32, partner: F32, weight: float) -> F32:
    """``standardise(base) + weight * standardise(partner)``; ``weight = inf``: partner alone."""
    if math.isinf(weight):
        return standardise(partner)
    out: F32 = standardise(base) + np.float32(weight) * standardise(partner)
    return out


def stage_scores(model: StreamModel, split: Split, stage: Stage) -> tuple[list[str], F32]:
    """(user ids, ``(U, N)`` scores after each evaluated user's ``stage`` history)."""
    users = list(split.users)
    states = replay_histories(model, [u.history(stage) for u in users])
    return [u.user_id for u in users], model.scores(model.interest(states))


class FixedScores:
    """A stream model whose score row is fixed per user (looked up by the events' user id)."""

    state_dim = 1

    def __init__(self, name: str, user_ids: Sequence[str], scores: F32) -> None:
        self.name = name
        self._row = {u: i for i, u in enumerate(user_ids)}
        self._scores = scores

    def initial_states(self, n: int) -> F32:
        return np.full((n, 1), -1.0, dtype=np.float32)

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        return np.array([[self._row[e.user_id]] for e in events], dtype=np.float32)

    def interest(self, states: F32) -> F32:
        return states

    def scores(self, interests: F32) -> F32:
        rows = interests[:, 0].astype(np.int64)
        if (rows < 0).any():
            raise ValueError("FixedScores: a user without events has no score row")
        out: F32 = self._scores[rows]
        return out
