"""Streaming replay: the whole log in time order through each model's ``step``, as the pipeline
would feed it, ranking each user's next item after every event; on synthetic data also the
time-to-adapt after each true interest switch.

* Users are independent (one state each), so every user's t-th event goes into one batch: the
  per-user order of the log, in far fewer batches than strict log order would allow.
* After an event, the user's *next item* (the item of their next event that has one) is ranked
  over the whole catalog; the user's ``mask_recent`` most recent items are masked, as the
  pipeline excludes items just consumed (the target itself never is). ``mask_recent=0``: none.
* Time-to-adapt (truth.json): for a switch at a user's event index s, the number of events
  k >= 1 after which, having applied events s..s+k-1, at least half of the top-10 (masked as
  above) belongs to the new topic. A switch whose segment ends first is *not adapted*.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from encoders.data.split import group_by_user
from encoders.evaluation.base import ItemIndex, StreamModel
from encoders.evaluation.offline import gaps_s
from encoders.evaluation.ranking import RankAccumulator
from streams.messages.records import BehaviourEvent

ADAPT_TOP = 10
ADAPT_SHARE = 0.5


def list_adapted(topics: Sequence[str], topic: str) -> bool:
    """Whether a list (its items' topics, best first) counts as adapted to ``topic``: at least
    ``ADAPT_SHARE`` of its top ``ADAPT_TOP`` (of all of it when shorter, as a catalog under 10
    items gives) belong to it; an empty list never does. Shared by the replay and
    ``bench.adapt``."""
    top = topics[:ADAPT_TOP]
    return bool(top) and sum(t == topic for t in top) / len(top) >= ADAPT_SHARE


@dataclass
class _Window:
    start: int  # user's event index of the first new-topic event
    end: int  # first index after the segment
    topic: str
    result: int | None = None  # events needed; None while open or when never adapted


@dataclass(frozen=True)
class StreamResult:
    metrics: dict[str, float]
    predictions: int
    #: Time-to-adapt per switch (None = not adapted within its segment); empty without truth.
    adapt: list[int | None] = field(default_factory=list)

    def adapt_summary(self) -> dict[str, Any]:
        """Median events to adapt (None when more than half never adapt) and shares."""
        if not self.adapt:
            return {}
        values = np.array([np.inf if a is None else a for a in self.adapt], dtype=np.float64)
        median = float(np.median(values))
        adapted = [a for a in self.adapt if a is not None]
        return {
            "switches": len(self.adapt),
            "median_events": None if np.isinf(median) else median,
            "adapted_share": len(adapted) / len(self.adapt),
            "median_events_if_adapted": float(np.median(adapted)) if adapted else None,
        }


def _next_items(events: Sequence[BehaviourEvent]) -> list[str | None]:
    """For each event of one user, the item of that user's next event that has an item."""
    out: list[str | None] = [None] * len(events)
    upcoming: str | None = None
    for i in range(len(events) - 1, -1, -1):
        out[i] = upcoming
        if events[i].item_id is not None:
            upcoming = events[i].item_id
    return out


def _windows(truth: Mapping[str, Any] | None) -> dict[str, deque[_Window]]:
    if not truth:
        return {}
    out: dict[str, deque[_Window]] = {}
    for user, switches in truth["switches"].items():
        bounds = [int(s["event_index"]) for s in switches] + [1 << 62]
        out[user] = deque(
            _Window(bounds[j], bounds[j + 1], str(s["to_topic"])) for j, s in enumerate(switches)
        )
    return out


def replay_stream(
    model: StreamModel,
    events: Sequence[BehaviourEvent],
    catalog: ItemIndex,
    *,
    ks: Sequence[int] = (10,),
    mask_recent: int = 20,
    truth: Mapping[str, Any] | None = None,
    batch_size: int = 1024,
) -> StreamResult:
    """Replay time-ordered ``events`` through ``model``; see the module docstring.

    Users are independent (one state each), so the replay advances every user's t-th event in
    one batch (the same per-user order as the log, far fewer and fuller batches than log order).
    """
    users = group_by_user(events)
    ids = list(users)
    seqs = [users[u] for u in ids]
    nexts = [_next_items(seq) for seq in seqs]
    gaps = [gaps_s(seq) for seq in seqs]
    recent = [deque[int](maxlen=max(mask_recent, 1)) for _ in seqs]
    windows = _windows(truth)
    item_topic: Mapping[str, str] = truth["item_topics"] if truth else {}
    topic_of_row = np.array([item_topic.get(i, "") for i in catalog.ids], dtype=object)
    closed: list[_Window] = []
    states = model.initial_states(len(seqs))  # (U, S)
    acc = RankAccumulator(ks=ks)
    longest = max((len(s) for s in seqs), default=0)
    for t in tqdm(
        range(longest), desc=f"stream {model.name}", unit=" step", leave=False, mininterval=2.0
    ):
        active = [u for u, seq in enumerate(seqs) if len(seq) > t]
        for start in range(0, len(active), batch_size):
            rows = active[start : start + batch_size]
            batch = [seqs[u][t] for u in rows]
            step_gaps = np.array([gaps[u][t] for u in rows], dtype=np.float32)
            states[rows] = model.step(states[rows], batch, step_gaps)
            scores = model.scores(model.interest(states[rows]))  # (B, N)
            exclude: list[list[int]] = []
            for u, e in zip(rows, batch, strict=True):
                if e.item_id is not None and mask_recent > 0:
                    recent[u].append(catalog.of(e.item_id))
                exclude.append(list(recent[u]) if mask_recent > 0 else [])
            with_target = [r for r, u in enumerate(rows) if nexts[u][t] is not None]
            if with_target:
                acc.add(
                    scores[with_target],
                    [catalog.of(str(nexts[rows[r]][t])) for r in with_target],
                    [exclude[r] for r in with_target],
                )
            for r, u in enumerate(rows):
                user_windows = windows.get(ids[u])
                if user_windows:
                    _check_adapted(user_windows, t, scores[r], exclude[r], topic_of_row, closed)
    for user_windows in windows.values():
        closed.extend(user_windows)  # the log ended before these adapted
    adapt = [w.result for w in closed] if truth else []
    return StreamResult(metrics=acc.result(), predictions=acc.count, adapt=adapt)


def _check_adapted(
    user_windows: deque[_Window],
    position: int,
    scores: npt.NDArray[np.float32],
    exclude: list[int],
    topic_of_row: npt.NDArray[np.object_],
    closed: list[_Window],
) -> None:
    """Close the user's current switch window if the top-10 has moved to its topic."""
    while user_windows and position >= user_windows[0].end:
        closed.append(user_windows.popleft())  # segment over, never adapted
    if not user_windows or position < user_windows[0].start:
        return
    window = user_windows[0]
    row = scores.astype(np.float64)
    row[exclude] = -np.inf
    top = np.argsort(-row, kind="stable")[:ADAPT_TOP]  # (10,) the list the user would see
    if list_adapted([str(t) for t in topic_of_row[top]], window.topic):
        window.result = position - window.start + 1
        closed.append(user_windows.popleft())
