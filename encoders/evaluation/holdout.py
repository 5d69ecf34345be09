"""The recent time-ordered holdout the learning loop decides promotions on.

A log is cut at a moment ``cut_ts`` (by default so that the newest ``frac`` of its events lie
after it). A candidate is trained only on the events before the cut; the candidate and the champion
are then scored on the same question the live system answers: replaying every user's events in
order through the model's ``step`` (the serving code path, :class:`~encoders.evaluation.base.
StreamModel`), after each event, rank the user's *next item* over the whole catalog — counted only
when that next item event happened after the cut. Each user's recent items are masked as the
pipeline excludes items just consumed (the target itself never is). Ranks and metrics come from
:mod:`encoders.evaluation.ranking`, the code ``driftrec eval`` uses.

Why not leave-last-out: it scores one target per user, wherever in time that user's last event
happens to be; a promotion must be decided on what users do *now*, and the recent traffic of the
drifted population is exactly where a stale champion fails.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from encoders.data.split import group_by_user
from encoders.evaluation.base import ItemIndex, StreamModel
from encoders.evaluation.offline import gaps_s
from encoders.evaluation.ranking import DEFAULT_KS, RankAccumulator
from streams.messages.records import BehaviourEvent

#: The metric promotions compare (the one training early-stops on).
PRIMARY = "NDCG@10"


class HoldoutError(ValueError):
    """A holdout cannot be built (too few events, nothing after the cut)."""


@dataclass(frozen=True)
class TimeSplit:
    """Events before the cut (training data) and the cut itself."""

    cut_ts: float
    train: list[BehaviourEvent]
    holdout_events: int  # events at or after the cut


def time_split(events: Sequence[BehaviourEvent], frac: float = 0.2) -> TimeSplit:
    """Cut time-ordered ``events`` so that about the newest ``frac`` of them are held out."""
    if not 0.0 < frac < 1.0:
        raise HoldoutError(f"holdout fraction must be in (0, 1), got {frac}")
    if len(events) < 10:
        raise HoldoutError(f"need at least 10 events for a time-ordered holdout, got {len(events)}")
    ts = np.sort(np.array([e.ts for e in events], dtype=np.float64))
    cut = float(ts[min(len(ts) - 1, int(len(ts) * (1.0 - frac)))])
    train = [e for e in events if e.ts < cut]
    return TimeSplit(cut_ts=cut, train=train, holdout_events=len(events) - len(train))


@dataclass(frozen=True)
class HoldoutResult:
    metrics: dict[str, float]
    predictions: int  # ranked targets (next-item events after the cut)
    users: int  # users with at least one ranked target


def evaluate_holdout(
    model: StreamModel,
    events: Sequence[BehaviourEvent],
    catalog: ItemIndex,
    cut_ts: float,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    mask_recent: int = 20,
    batch_size: int = 512,
) -> HoldoutResult:
    """Next-item ranking after every event, counted for targets at or after ``cut_ts``."""
    users = [
        seq
        for seq in group_by_user(events).values()
        if any(e.ts >= cut_ts and e.item_id is not None for e in seq[1:])
    ]
    # Per user: position -> the next item event's (item, ts), for positions with a target.
    targets: list[dict[int, str]] = []
    for seq in users:
        upcoming: tuple[str, float] | None = None
        out: dict[int, str] = {}
        for i in range(len(seq) - 1, -1, -1):
            if upcoming is not None and upcoming[1] >= cut_ts:
                out[i] = upcoming[0]
            if seq[i].item_id is not None:
                upcoming = (str(seq[i].item_id), seq[i].ts)
        targets.append(out)
    last = [max(t) + 1 for t in targets]  # nothing after the last target needs replaying
    gaps = [gaps_s(seq) for seq in users]
    recent = [deque[int](maxlen=max(mask_recent, 1)) for _ in users]
    states = model.initial_states(len(users))  # (U, S)
    acc = RankAccumulator(ks=ks)
    for t in range(max(last, default=0)):
        active = [u for u in range(len(users)) if last[u] > t]
        for start in range(0, len(active), batch_size):
            rows = active[start : start + batch_size]
            batch = [users[u][t] for u in rows]
            step_gaps = np.array([gaps[u][t] for u in rows], dtype=np.float32)
            states[rows] = model.step(states[rows], batch, step_gaps)
            for u, e in zip(rows, batch, strict=True):
                if e.item_id is not None and mask_recent > 0:
                    recent[u].append(catalog.of(e.item_id))
            scored = [u for u in rows if t in targets[u]]
            if not scored:
                continue
            scores = model.scores(model.interest(states[scored]))  # (B, N)
            exclude = [list(recent[u]) if mask_recent > 0 else [] for u in scored]
            acc.add(scores, [catalog.of(targets[u][t]) for u in scored], exclude)
    return HoldoutResult(metrics=acc.result(), predictions=acc.count, users=len(users))


def beats(candidate: dict[str, float], champion: dict[str, float], min_gain: float) -> bool:
    """True when the candidate's primary metric exceeds the champion's by more than min_gain."""
    return candidate.get(PRIMARY, 0.0) > champion.get(PRIMARY, 0.0) + min_gain
