"""Streaming replay: the whole log in time order through each model's ``step``, as the pipeline
would feed it, ranking each user's next item after every event; on synthetic data also the
time-to-adapt after each true interest switch.

* Micro-batches hold at most one event per user (like the pipeline's batches), in log order.
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
from tqdm import tqdm

from encoders.evaluation.base import ItemIndex, StreamModel
from encoders.metrics import RankAccumulator
from encoders.records import BehaviourEvent

ADAPT_TOP = 10
ADAPT_SHARE = 0.5


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


def _next_item_targets(events: Sequence[BehaviourEvent]) -> list[str | None]:
    """For each event, the item of the same user's next event that has an item."""
    targets: list[str | None] = [None] * len(events)
    upcoming: dict[str, str] = {}
    for i in range(len(events) - 1, -1, -1):
        e = events[i]
        targets[i] = upcoming.get(e.user_id)
        if e.item_id is not None:
            upcoming[e.user_id] = e.item_id
    return targets


def _batches(events: Sequence[BehaviourEvent], size: int) -> list[list[int]]:
    """Consecutive runs of event positions with at most one event per user each."""
    out: list[list[int]] = []
    current: list[int] = []
    users: set[str] = set()
    for i, e in enumerate(events):
        if e.user_id in users or len(current) >= size:
            out.append(current)
            current, users = [], set()
        current.append(i)
        users.add(e.user_id)
    if current:
        out.append(current)
    return out


def replay_stream(
    model: StreamModel,
    events: Sequence[BehaviourEvent],
    catalog: ItemIndex,
    *,
    ks: Sequence[int] = (10,),
    mask_recent: int = 20,
    truth: Mapping[str, Any] | None = None,
    batch_size: int = 256,
) -> StreamResult:
    """Replay time-ordered ``events`` through ``model``; see the module docstring."""
    targets = _next_item_targets(events)
    row_of: dict[str, int] = {}
    states = model.initial_states(0)
    last_ts: dict[str, float] = {}
    seen: dict[str, int] = {}  # events applied per user
    recent: dict[str, deque[int]] = {}
    windows: dict[str, deque[_Window]] = {}
    item_topic: Mapping[str, str] = truth["item_topics"] if truth else {}
    if truth:
        for user, switches in truth["switches"].items():
            bounds = [int(s["event_index"]) for s in switches] + [1 << 62]
            windows[user] = deque(
                _Window(bounds[j], bounds[j + 1], str(s["to_topic"]))
                for j, s in enumerate(switches)
            )
    topic_of_row = np.array([item_topic.get(i, "") for i in catalog.ids], dtype=object)
    closed: list[_Window] = []
    acc = RankAccumulator(ks=ks)
    for batch in tqdm(_batches(events, batch_size), desc=f"stream {model.name}", unit=" batch",
                      leave=False, mininterval=2.0):  # fmt: skip
        batch_events = [events[i] for i in batch]
        new = [e.user_id for e in batch_events if e.user_id not in row_of]
        if new:
            for u in new:
                row_of[u] = len(row_of)
            states = np.concatenate([states, model.initial_states(len(new))])
        rows = np.array([row_of[e.user_id] for e in batch_events])
        gaps = np.array([max(e.ts - last_ts.get(e.user_id, e.ts), 0.0) for e in batch_events],
                        dtype=np.float32)  # fmt: skip
        states[rows] = model.step(states[rows], batch_events, gaps)
        scores = model.scores(model.interest(states[rows]))  # (B, N)
        exclude: list[list[int]] = []
        for e in batch_events:
            last_ts[e.user_id] = e.ts
            window = recent.setdefault(e.user_id, deque(maxlen=max(mask_recent, 1)))
            if e.item_id is not None and mask_recent > 0:
                window.append(catalog.of(e.item_id))
            exclude.append(list(window) if mask_recent > 0 else [])
        has_target = [r for r, i in enumerate(batch) if targets[i] is not None]
        if has_target:
            acc.add(
                scores[has_target],
                [catalog.of(str(targets[batch[r]])) for r in has_target],
                [exclude[r] for r in has_target],
            )
        for r, e in enumerate(batch_events):
            position = seen.get(e.user_id, 0)
            seen[e.user_id] = position + 1
            user_windows = windows.get(e.user_id)
            if not user_windows:
                continue
            while user_windows and position >= user_windows[0].end:
                closed.append(user_windows.popleft())  # segment over, never adapted
            if not user_windows or position < user_windows[0].start:
                continue
            w = user_windows[0]
            row = scores[r].astype(np.float64)
            row[exclude[r]] = -np.inf
            top = np.argsort(-row, kind="stable")[:ADAPT_TOP]  # (10,) the published list
            share = float(np.mean(topic_of_row[top] == w.topic))
            if share >= ADAPT_SHARE:
                w.result = position - w.start + 1
                closed.append(user_windows.popleft())
    for user_windows in windows.values():
        closed.extend(user_windows)  # log ended before these adapted (or began)
    adapt = [w.result for w in closed] if truth else []
    return StreamResult(metrics=acc.result(), predictions=acc.count, adapt=adapt)
