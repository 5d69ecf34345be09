"""One user's online state, packed into a small binary value for a RocksDB-backed table.

A profile holds the LSTM state, the long-term interest, the served interest and the interest that
produced the last published list, counters, the drift statistics, the last applied offset per
topic-partition (effectively-once updates: a redelivered event at or below it is skipped), and a
bounded window of recent events ``(event_id, item_id, action, ts)`` used for exclusion, for the
``because`` of each listed item, for duplicate detection and for rebuilding under a new model.

Format ``DRP`` v2 (little endian): magic, user_id, model_version, counters, timestamps, float32
arrays (the published interest in float16), drift statistics, offsets, recent window, then the
optional consumed-items filter (profiles.consumed: kept only under ``DRIFTREC_EXCLUDE=consumed``;
items leaving the recent window go into it). v1 profiles (no filter section) are still read. With
D = 64, S = 128, a 20-event window of 12-character ids and the default 128-byte filter it is just
under 2 KiB.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Self

import numpy as np

from profiles.consumed import ConsumedFilter
from profiles.errors import ProfileError
from profiles.packing import Reader, Writer
from profiles.policy import DriftState, PolicyConfig, Trigger, went_on
from streams.messages.records import ACTIONS

MAGIC: Final = b"DRP\x02"
MAGIC_V1: Final = b"DRP\x01"
DEFAULT_WINDOW: Final = 20
_ACTION_INDEX: Final = {a: i for i, a in enumerate(ACTIONS)}


def _action_index(action: str) -> int:
    ix = _ACTION_INDEX.get(action)
    return ACTIONS.index(action) if ix is None else ix  # an unknown one: ValueError, as before


class RecentEvent(NamedTuple):
    """One entry of the recent-event window."""

    event_id: str
    item_id: str | None
    action: str
    ts: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "item_id": self.item_id,
            "action": self.action,
            "ts": self.ts,
        }


@dataclass(frozen=True)
class Applied:
    """What one applied event changes in a profile (the engine computes it, batched)."""

    event: RecentEvent
    source: str  # "topic:partition" the event was read from
    offset: int
    state: np.ndarray  # (S,) new LSTM state
    long_term: np.ndarray  # (D,) new long-term interest
    interest: np.ndarray  # (D,) new served interest
    drift: float


def source_key(topic: str, partition: int) -> str:
    """The key offsets are stored under."""
    return f"{topic}:{partition}"


class UserProfile:
    """Per-user state. ``update(applied) -> self``; ``get()`` is the served interest (D,)."""

    def __init__(
        self,
        user_id: str,
        model_version: str,
        state: np.ndarray,
        dim: int,
        *,
        config: PolicyConfig | None = None,
        window: int = DEFAULT_WINDOW,
        filter_bytes: int = 0,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.user_id = user_id
        self.model_version = model_version
        self.config = config or PolicyConfig()
        self.state = np.asarray(state, dtype=np.float32).copy()  # (S,)
        self.long_term = np.zeros(dim, dtype=np.float32)  # (D,)
        self.interest = np.zeros(dim, dtype=np.float32)  # (D,)
        self.published: np.ndarray | None = None  # (D,) interest behind the last list
        self.events_applied = 0
        self.last_event_id: str | None = None
        self.last_ts: float | None = None
        self.list_ts: float | None = None
        self.events_since_list = 0
        self.lists_published = 0
        self.drift = DriftState.new(self.config)
        self.offsets: dict[str, int] = {}
        self.recent: deque[RecentEvent] = deque(maxlen=window)
        #: Items that left the recent window (only under the "consumed" exclusion policy).
        self.consumed_filter: ConsumedFilter | None = (
            ConsumedFilter(filter_bytes) if filter_bytes else None
        )

    # --- online-state protocol -------------------------------------------------------------
    def get(self) -> np.ndarray:
        """The served interest (D,)."""
        return self.interest

    def update(self, applied: Applied) -> Self:
        """Fold one applied event in (drift statistics included)."""
        a = applied
        return self.apply(a.event, a.source, a.offset, a.state, a.long_term, a.interest, a.drift)

    def apply(
        self,
        event: RecentEvent,
        source: str,
        offset: int,
        state: np.ndarray,
        long_term: np.ndarray,
        interest: np.ndarray,
        drift: float,
    ) -> Self:
        """:meth:`update` with the fields of an :class:`Applied` as arguments (the engine's
        per-event path, which need not build one per event). The arrays are copied."""
        onward = True
        if self.published is not None and self.drift.streak and self.config.direction:
            onward = went_on(self.published, self.interest, interest)
        self.state = np.array(state, dtype=np.float32)
        self.long_term = np.array(long_term, dtype=np.float32)
        self.interest = np.array(interest, dtype=np.float32)
        self.events_applied += 1
        self.events_since_list += 1
        self.last_event_id = event.event_id
        self.last_ts = event.ts
        self.offsets[source] = offset
        if self.consumed_filter is not None and len(self.recent) == self.recent.maxlen:
            leaving = self.recent[0].item_id
            if leaving is not None:
                self.consumed_filter.add(leaving)
        self.recent.append(event)
        if self.published is not None:
            self.drift.update(drift, onward)
        return self

    # --- questions the engine asks ---------------------------------------------------------
    def gap_s(self, ts: float) -> float:
        """Seconds since the previous applied event (0.0 for the first, never negative)."""
        return 0.0 if self.last_ts is None else max(0.0, ts - self.last_ts)

    def consumed(self) -> set[str]:
        """Item ids of the recent window (exact)."""
        return {e.item_id for e in self.recent if e.item_id is not None}

    def has_consumed(self, item_id: str) -> bool:
        """In the recent window, or (with a filter) probably consumed before it."""
        if any(e.item_id == item_id for e in self.recent):
            return True
        return self.consumed_filter is not None and item_id in self.consumed_filter

    def ensure_filter(self, nbytes: int) -> None:
        """Start a consumed filter (a profile made before the "consumed" policy: its items older
        than the recent window are not known, the window's are kept exactly)."""
        if self.consumed_filter is None:
            self.consumed_filter = ConsumedFilter(nbytes)

    def mark_published(
        self, ts: float, rounded: np.ndarray | None = None, *, trigger: Trigger | None = None
    ) -> None:
        """The current interest produced a list at event time ``ts`` (for ``trigger``).

        The interest becomes the drift reference, kept in float16 (drift needs ~3 digits; it
        saves 128 bytes per profile), rounded here already so that a profile in memory equals its
        decoded copy. ``rounded``: the current interest already rounded so (float16 and back to
        float32), e.g. by the engine for a whole batch at once; it is copied. With
        ``config.refresh_keeps_streak`` a refresh during a pending drift streak leaves the drift
        reference and the streak as they were; with ``config.refresh_keeps_reference`` any
        refresh does.
        """
        self.list_ts = ts
        self.events_since_list = 0
        self.lists_published += 1
        if trigger == "refresh" and self.published is not None:
            c = self.config
            if c.refresh_keeps_reference or (c.refresh_keeps_streak and self.drift.streak):
                return
        if rounded is None:
            self.published = self.interest.astype(np.float16).astype(np.float32)
        else:
            self.published = np.array(rounded, dtype=np.float32)
        self.drift.published()

    def reset_model(self, model_version: str, state: np.ndarray, dim: int) -> None:
        """Start the model state over under another model (offsets and window are kept)."""
        self.model_version = model_version
        self.state = np.asarray(state, dtype=np.float32).copy()
        self.long_term = np.zeros(dim, dtype=np.float32)
        self.interest = np.zeros(dim, dtype=np.float32)
        self.published = None
        self.drift = DriftState.new(self.config)

    # --- views and serialisation -----------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The web view of the profile."""
        return {
            "user_id": self.user_id,
            "model_version": self.model_version,
            "events_applied": self.events_applied,
            "last_event_id": self.last_event_id,
            "last_ts": self.last_ts,
            "lists_published": self.lists_published,
            "last_list_ts": self.list_ts,
            "events_since_list": self.events_since_list,
            "drift_threshold": self.drift.get(),
            "interest": [float(x) for x in self.interest],
            "offsets": dict(self.offsets),
            "recent": [e.to_json() for e in self.recent],
        }

    def to_bytes(self) -> bytes:
        w = Writer()
        w.text(self.user_id)
        w.text(self.model_version)
        w.u32(self.recent.maxlen or DEFAULT_WINDOW)
        w.i64(self.events_applied)
        w.i64(self.events_since_list)
        w.i64(self.lists_published)
        w.opt_text(self.last_event_id)
        for ts in (self.last_ts, self.list_ts):
            w.u8(ts is not None)
            w.f64(ts or 0.0)
        w.array(self.state)
        w.array(self.long_term)
        w.array(self.interest)
        w.half_array(self.published)
        self.drift.write(w)
        w.u32(len(self.offsets))
        for source, offset in sorted(self.offsets.items()):
            w.text(source)
            w.i64(offset)
        w.u32(len(self.recent))
        # Per event: its id, one byte (action index, high bit set when an item id follows), the
        # item id, the time.
        w.tagged_rows(
            (
                e.event_id,
                _action_index(e.action) | (0x80 if e.item_id is not None else 0),
                e.item_id,
                e.ts,
            )
            for e in self.recent
        )
        f = self.consumed_filter
        w.u8(f is not None)
        if f is not None:
            w.u8(f.hashes)
            w.u32(f.count)
            w.blob(f.to_bytes())
        return MAGIC + w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, config: PolicyConfig | None = None) -> UserProfile:
        if data[:4] not in (MAGIC, MAGIC_V1):
            raise ProfileError(f"not a driftrec profile (magic {data[:4]!r}, want {MAGIC!r})")
        r = Reader(data[4:])
        user_id, version, window = r.text(), r.text(), r.u32()
        p = cls(user_id, version, np.zeros(0, np.float32), 0, config=config, window=window)
        p.events_applied, p.events_since_list, p.lists_published = r.i64(), r.i64(), r.i64()
        p.last_event_id = r.opt_text()
        stamps = []
        for _ in range(2):
            present, value = r.u8(), r.f64()
            stamps.append(value if present else None)
        p.last_ts, p.list_ts = stamps
        p.state, p.long_term, p.interest = r.array(), r.array(), r.array()
        p.published = r.half_array()
        p.drift = DriftState.read(r, p.config)
        p.offsets = {r.text(): r.i64() for _ in range(r.u32())}
        for event_id, flags, item_id, ts in r.tagged_rows(r.u32(), 0x80):
            action_ix = flags & 0x7F
            if action_ix >= len(ACTIONS):
                raise ProfileError(f"profile of {user_id!r} has unknown action index {action_ix}")
            p.recent.append(RecentEvent(event_id, item_id, ACTIONS[action_ix], ts))
        if data[:4] == MAGIC and r.u8():
            hashes, count = r.u8(), r.u32()
            try:
                p.consumed_filter = ConsumedFilter.from_parts(r.blob(), hashes, count)
            except ValueError as exc:
                raise ProfileError(f"profile of {user_id!r}: bad consumed filter ({exc})") from exc
        r.done()
        return p

    def copy(self) -> UserProfile:
        return UserProfile.from_bytes(self.to_bytes(), self.config)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UserProfile) and self.to_bytes() == other.to_bytes()

    def __repr__(self) -> str:
        return (
            f"UserProfile({self.user_id!r}, model={self.model_version!r}, "
            f"events_applied={self.events_applied}, lists={self.lists_published})"
        )
