"""Rebuild profiles under a new model from the recent-event window they keep (hot model swap).

A profile's LSTM state, long-term interest and served interest belong to the model that made them;
under another model they mean nothing. Rather than starting the user over (the engine's plain
reset), the new model is run over the profile's recent-event window — the last ``window`` events,
oldest first — batched across users in rounds exactly as the engine applies live events, so the
user keeps an informed interest the moment the swap happens. Counters, offsets (effectively-once)
and the window itself are kept; the interest behind the last list is set to the rebuilt interest
and the list marked due, so the user's next event publishes a ``refresh`` list from the new model.

What the window does not hold cannot be replayed: events older than the window, and the free text
of searches (the window keeps ids, actions and times only). Events on items no longer in the
catalog are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from profiles.contracts import InterestModel, ItemEmbedding, StepEvent
from profiles.policy import DriftState
from profiles.profile import RecentEvent, UserProfile
from profiles.retrieval import ItemIndex


@dataclass(frozen=True)
class RebuildStats:
    profiles: int
    events: int  # events replayed
    skipped: int  # window events whose item left the catalog


def _replayable(profile: UserProfile, index: ItemIndex[ItemEmbedding]) -> list[RecentEvent]:
    return [e for e in profile.recent if e.item_id is None or e.item_id in index]


def rebuild(
    profiles: Sequence[UserProfile], model: InterestModel, index: ItemIndex[ItemEmbedding]
) -> RebuildStats:
    """Rebuild ``profiles`` in place under ``model`` (its item vectors in ``index``)."""
    windows = [_replayable(p, index) for p in profiles]
    skipped = sum(len(p.recent) for p in profiles) - sum(len(w) for w in windows)
    n = len(profiles)
    states = np.stack([model.initial_state() for _ in range(n)]) if n else None  # (U, S)
    long = np.zeros((n, model.dim), dtype=np.float32)  # (U, D)
    interest = np.zeros((n, model.dim), dtype=np.float32)  # (U, D)
    depth = max((len(w) for w in windows), default=0)
    for t in range(depth):
        rows = [u for u, w in enumerate(windows) if len(w) > t]
        steps = []
        for u in rows:
            e = windows[u][t]
            gap = 0.0 if t == 0 else max(0.0, e.ts - windows[u][t - 1].ts)
            item = None if e.item_id is None else index.payload(e.item_id)
            steps.append(StepEvent(action=e.action, gap_s=gap, item=item, text=None))
        assert states is not None
        new_states, h = model.step(states[rows], steps)  # (B, S), (B, D)
        count = np.full(len(rows), t, dtype=np.int64)  # (B,) events before this one
        long[rows] = model.update_long_term(long[rows], count, h)  # (B, D)
        w = model.attention_window
        if w:
            window = np.zeros((len(rows), w, model.dim), dtype=np.float32)  # (B, W, D)
            mask = np.zeros((len(rows), w), dtype=bool)
            for b, u in enumerate(rows):
                for k, ev in enumerate(reversed(windows[u][max(0, t + 1 - w) : t + 1])):
                    vec = None if ev.item_id is None else index.vector(ev.item_id)
                    if vec is not None:
                        window[b, k], mask[b, k] = vec, True
            interest[rows] = model.served_interest(h, long[rows], window, mask)  # (B, D)
        else:
            interest[rows] = model.served_interest(h, long[rows])  # (B, D)
        states[rows] = new_states
    for u, profile in enumerate(profiles):
        profile.reset_model(model.version, model.initial_state(), model.dim)
        if not windows[u]:
            continue  # nothing replayable: a fresh start under the new model
        assert states is not None
        profile.state = states[u].astype(np.float32)
        profile.long_term = long[u].astype(np.float32)
        profile.interest = interest[u].astype(np.float32)
        # The drift reference lives in the new model's space now; stored as mark_published does.
        profile.published = profile.interest.astype(np.float16).astype(np.float32)
        profile.drift = DriftState.new(profile.config)
        profile.events_since_list = profile.config.refresh_events  # the next event refreshes
    return RebuildStats(profiles=n, events=sum(len(w) for w in windows), skipped=skipped)
