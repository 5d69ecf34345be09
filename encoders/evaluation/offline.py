"""Offline evaluation: leave-last-out targets, full ranking, history masking, one metrics path.

Each model sees each evaluated user's history (every event before the target) through its own
``step``, one event at a time, batched across users: for driftrec this is the serving code path.
Ranks and metrics come from :mod:`encoders.evaluation.ranking`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from encoders.data.split import Split, Stage
from encoders.evaluation.base import ItemIndex, StreamModel
from encoders.evaluation.ranking import DEFAULT_KS, RankAccumulator
from streams.messages.records import BehaviourEvent


@dataclass(frozen=True)
class OfflineResult:
    """Metrics (e.g. ``"NDCG@10"``) and the per-user 1-based ranks behind them."""

    metrics: dict[str, float]
    ranks: npt.NDArray[np.int64]


def gaps_s(events: Sequence[BehaviourEvent]) -> npt.NDArray[np.float32]:
    """Seconds since the previous event of the same sequence (0.0 for the first): ``(T,)``."""
    ts = np.array([e.ts for e in events], dtype=np.float64)
    out = np.zeros(len(events), dtype=np.float32)
    out[1:] = np.maximum(np.diff(ts), 0.0)
    return out


def replay_histories(
    model: StreamModel, histories: Sequence[Sequence[BehaviourEvent]]
) -> npt.NDArray[np.float32]:
    """Final state of each history after stepping every event in order: ``(U, S)``."""
    states = model.initial_states(len(histories))
    gaps = [gaps_s(h) for h in histories]
    longest = max((len(h) for h in histories), default=0)
    for t in range(longest):
        rows = [r for r, h in enumerate(histories) if len(h) > t]
        events = [histories[r][t] for r in rows]
        step_gaps = np.array([gaps[r][t] for r in rows], dtype=np.float32)
        states[rows] = model.step(states[rows], events, step_gaps)
    return states


def evaluate_offline(
    model: StreamModel,
    split: Split,
    catalog: ItemIndex,
    *,
    stage: Stage = "test",
    ks: Sequence[int] = DEFAULT_KS,
    mask_history: bool = True,
    batch_users: int = 256,
) -> OfflineResult:
    """Rank every evaluated user's ``stage`` target among all items for ``model``."""
    acc = RankAccumulator(ks=ks)
    # Users sorted by history length share batches with similar lengths: fewer near-empty steps.
    users = sorted(split.users, key=lambda u: len(u.history(stage)))
    positions = {id(u): i for i, u in enumerate(split.users)}
    ranks = np.zeros(len(users), dtype=np.int64)
    batches = range(0, len(users), batch_users)
    for start in tqdm(batches, desc=f"offline {model.name}", unit=" batch", leave=False):
        chunk = users[start : start + batch_users]
        histories = [u.history(stage) for u in chunk]
        states = replay_histories(model, histories)
        scores = model.scores(model.interest(states))  # (B, N)
        targets = [catalog.of(u.target(stage)) for u in chunk]
        exclude = None
        if mask_history:
            exclude = [
                {catalog.of(e.item_id) for e in h if e.item_id is not None} for h in histories
            ]
        chunk_ranks = acc.add(scores, targets, exclude)
        for u, rank in zip(chunk, chunk_ranks, strict=True):
            ranks[positions[id(u)]] = rank
    return OfflineResult(metrics=acc.result(), ranks=ranks)
