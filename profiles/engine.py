"""The pure batch engine: a micro-batch of events + the users' profiles -> new profiles and lists.

The model state does not depend on the publish policy, so every user's new events of the batch go
through the model in ONE call (``model.step_sequences``: one padded, packed LSTM call, each user
continuing from their stored state), and the long-term and served interest of every event come
batched too. Then, in *rounds* (round r: the r-th new event of every user, so each user's events
stay in order), the drift and the publish policy decide after every event whether the user gets a
new list; all lists of the batch are then retrieved with one batched matrix product. Redelivered
events (offset at or below the profile's last applied offset for that partition, or an event id
still in the recent window) are skipped, which makes state updates effectively-once under
at-least-once delivery. The engine has no Kafka and no clock: equal inputs give equal outputs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from profiles.consumed import DEFAULT_FILTER_BYTES, ExcludePolicy
from profiles.contracts import InterestModel, ItemEmbedding, StepEvent
from profiles.listjson import list_json_bytes
from profiles.policy import PolicyConfig, Trigger, cosine_drift, decide
from profiles.profile import RecentEvent, UserProfile
from profiles.retrieval import ItemIndex, Query, Scored, repeat_boost
from profiles.rows import stack_rows
from streams.messages.records import BehaviourEvent

log = logging.getLogger(__name__)


class Incoming(NamedTuple):
    """One decoded event with where it came from; ``ref`` is the caller's handle (batch index).

    Named tuples here and for :class:`RecList` (and ``Scored``, ``Query``, ``StepEvent``): one
    of each is built per event or per list, and a frozen dataclass costs about twice as much to
    build.
    """

    event: BehaviourEvent
    source: str  # "topic:partition"
    offset: int
    ref: int


class RecList(NamedTuple):
    """One list to publish (or answer on request)."""

    user_id: str
    items: list[Scored]
    trigger: Trigger
    drift: float
    model_version: str
    event_id: str | None
    event_ts: float | None
    ref: int | None  # the triggering record

    def to_json(self, published_ts: float) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "items": [s.to_json() for s in self.items],
            "trigger": self.trigger,
            "drift": round(self.drift, 6),
            "model_version": self.model_version,
            "event_id": self.event_id,
            "event_ts": self.event_ts,
            "published_ts": published_ts,
        }

    def to_json_bytes(self, published_ts: float) -> bytes:
        """``encode_json(self.to_json(published_ts))``: the bytes the worker publishes, written
        directly (:mod:`profiles.listjson`)."""
        return list_json_bytes(self, published_ts)


@dataclass
class BatchResult:
    """What the caller writes, sends and counts."""

    profiles: dict[str, UserProfile] = field(default_factory=dict)  # changed profiles
    profile_refs: dict[str, int] = field(default_factory=dict)  # a record of each changed user
    lists: list[RecList] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (ref, reason, message)
    duplicates: list[int] = field(default_factory=list)
    applied: int = 0
    resets: int = 0
    drifts: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    retrieval_seconds: float | None = None

    def merge(self, later: BatchResult) -> None:
        """Add ``later``'s outcome to this one (a user's later profile replaces the earlier)."""
        self.profiles.update(later.profiles)
        self.profile_refs.update(later.profile_refs)
        self.lists.extend(later.lists)
        self.rejected.extend(later.rejected)
        self.duplicates.extend(later.duplicates)
        self.applied += later.applied
        self.resets += later.resets
        self.drifts.extend(later.drifts)
        self.step_seconds.extend(later.step_seconds)
        if later.retrieval_seconds is not None:
            self.retrieval_seconds = (self.retrieval_seconds or 0.0) + later.retrieval_seconds


class Recommender(Protocol):
    """What a worker serves with: one :class:`Engine`, or a router of several engines
    (``streams.worker.router.ModelRouter``); ``model`` and ``index`` are the serving default's."""

    @property
    def model(self) -> InterestModel: ...
    @property
    def index(self) -> ItemIndex[ItemEmbedding]: ...
    def process(
        self, batch: Sequence[Incoming], stored: Mapping[str, UserProfile | None]
    ) -> BatchResult: ...
    def recommend(self, profile: UserProfile, k: int | None = None) -> RecList: ...


class Engine:
    """Applies micro-batches to profiles with one model; holds no per-user state itself."""

    def __init__(
        self,
        model: InterestModel,
        index: ItemIndex[ItemEmbedding],
        policy: PolicyConfig,
        *,
        top_k: int = 10,
        window: int = 20,
        exclude: ExcludePolicy = "recent",
        filter_bytes: int = DEFAULT_FILTER_BYTES,
    ) -> None:
        if model.attention_window > window:
            raise ValueError(
                f"the model reads the last {model.attention_window} events, the profile keeps "
                f"{window}: raise DRIFTREC_RECENT_WINDOW"
            )
        self.model = model
        self.index = index
        self.policy = policy
        self.top_k = top_k
        self.window = window
        self.exclude: ExcludePolicy = exclude
        self.filter_bytes = filter_bytes if exclude == "consumed" else 0

    def new_profile(self, user_id: str) -> UserProfile:
        return UserProfile(
            user_id,
            self.model.version,
            self.model.initial_state(),
            self.model.dim,
            config=self.policy,
            window=self.window,
            filter_bytes=self.filter_bytes,
        )

    def load(self, user_id: str, stored: UserProfile | None, result: BatchResult) -> UserProfile:
        """The profile to continue from: stored, new, or reset when made by another model."""
        if stored is None:
            return self.new_profile(user_id)
        if self.filter_bytes:
            stored.ensure_filter(self.filter_bytes)
        if stored.model_version != self.model.version:
            log.warning(
                "profile of user %r was made by model %s, serving %s: model state reset "
                "(offsets and recent events kept)",
                user_id,
                stored.model_version,
                self.model.version,
            )
            stored.reset_model(self.model.version, self.model.initial_state(), self.model.dim)
            result.resets += 1
        return stored

    def process(
        self, batch: Sequence[Incoming], stored: Mapping[str, UserProfile | None]
    ) -> BatchResult:
        """Apply ``batch`` (any order across users, in order per user) to ``stored`` profiles."""
        result = BatchResult()
        queues: dict[str, list[Incoming]] = {}
        for inc in batch:
            item_id = inc.event.item_id
            if item_id is not None and item_id not in self.index:
                result.rejected.append(
                    (inc.ref, "unknown_item", f"item {item_id[:60]!r} is not in the catalog")
                )
                continue
            queues.setdefault(inc.event.user_id, []).append(inc)
        profiles: dict[str, UserProfile] = {}
        for user_id, incs in queues.items():
            profile = self.load(user_id, stored.get(user_id), result)
            fresh = self._dedupe(profile, incs, result)
            queues[user_id] = fresh
            if fresh:
                profiles[user_id] = profile
                result.profile_refs[user_id] = fresh[-1].ref
        users = [(profile, queues[user_id]) for user_id, profile in profiles.items()]
        pending = self._apply(users, result) if users else []
        for user_id, profile in profiles.items():
            result.profiles[user_id] = profile
        if pending:
            t0 = time.perf_counter()
            lists = self.index.top_k([p[4] for p in pending], self.top_k, score=self.model.score)
            result.retrieval_seconds = time.perf_counter() - t0
            version = self.model.version
            for (profile, inc, trigger, drift, _), items in zip(pending, lists, strict=True):
                e = inc.event
                result.lists.append(
                    RecList(
                        profile.user_id, items, trigger, drift, version, e.event_id, e.ts, inc.ref
                    )
                )
        return result

    @staticmethod
    def _dedupe(profile: UserProfile, incs: list[Incoming], result: BatchResult) -> list[Incoming]:
        last: dict[str, int] = dict(profile.offsets)
        seen = {e.event_id for e in profile.recent}
        fresh = []
        for inc in incs:
            if inc.offset <= last.get(inc.source, -1) or inc.event.event_id in seen:
                result.duplicates.append(inc.ref)
                continue
            last[inc.source] = inc.offset
            seen.add(inc.event.event_id)
            fresh.append(inc)
        return fresh

    def _apply(
        self, users: list[tuple[UserProfile, list[Incoming]]], result: BatchResult
    ) -> list[tuple[UserProfile, Incoming, Trigger, float, Query]]:
        """Every user's new events through the model in one call, then the policy event by event.

        The model state does not depend on the policy, so h, the long-term interest and the
        served interest of every event come first (batched over all events); the drift and the
        publish decisions then go round by round (round r: the r-th new event of every user),
        as each depends on the lists published before it.
        """
        seqs: list[list[StepEvent]] = []
        for profile, incs in users:
            prev = profile.last_ts
            steps = []
            for inc in incs:
                e = inc.event
                item = None if e.item_id is None else self.index.payload(e.item_id)
                gap = 0.0 if prev is None else max(0.0, e.ts - prev)
                steps.append(StepEvent(e.action, gap, item, e.text))
                prev = e.ts
            seqs.append(steps)
        lengths = [len(incs) for _, incs in users]
        start = np.cumsum([0, *lengths[:-1]])  # (U,) row of each user's first event
        depth = max(lengths)
        rounds = [np.array([u for u, n in enumerate(lengths) if n > r]) for r in range(depth)]
        t0 = time.perf_counter()
        states = stack_rows([p.state for p, _ in users])  # (U, S)
        new_states, h = self.model.step_sequences(states, seqs)  # (U, S), (E, D)
        long = stack_rows([p.long_term for p, _ in users])  # (U, D), running
        count = np.array([p.events_applied for p, _ in users], dtype=np.int64)  # (U,)
        long_all = np.empty_like(h)  # (E, D): long-term interest after each event
        for r, rows in enumerate(rounds):
            idx = start[rows] + r
            long[rows] = self.model.update_long_term(long[rows], count[rows] + r, h[idx])
            long_all[idx] = long[rows]
        if self.model.attention_window:
            window, mask = self._windows(users, len(h))
            interest = self.model.served_interest(h, long_all, window, mask)  # (E, D)
        else:
            interest = self.model.served_interest(h, long_all)  # (E, D)
        result.step_seconds.append(time.perf_counter() - t0)
        bonus = self.model.repeat_bonus()  # fixed while the batch runs: asked once
        # Every event's interest as mark_published stores it (float16 and back), cast once.
        rounded = interest.astype(np.float16).astype(np.float32)  # (E, D)
        policy = self.policy
        out = []
        for r, rows in enumerate(rounds):
            idx = (start[rows] + r).tolist()
            us = rows.tolist()
            round_ = [users[u] for u in us]
            published = stack_rows(
                [
                    interest[i] if p.published is None else p.published
                    for i, (p, _) in zip(idx, round_, strict=True)
                ]
            )  # (B, D); no list yet: drift 0
            drift = cosine_drift(interest[idx], published).tolist()  # (B,)
            for u, (profile, incs), i, d in zip(us, round_, idx, drift, strict=True):
                inc = incs[r]
                e = inc.event
                had_list = profile.published is not None
                profile.apply(
                    RecentEvent(e.event_id, e.item_id, e.action, e.ts),
                    inc.source,
                    inc.offset,
                    # The state after the user's last event of the batch: the states in
                    # between are never read (the profile keeps the last one).
                    new_states[u],
                    long_all[i],
                    interest[i],
                    d,
                )
                result.applied += 1
                if had_list:
                    result.drifts.append(d)
                trigger = decide(
                    policy,
                    has_list=had_list,
                    streak=profile.drift.streak,
                    events_since_list=profile.events_since_list,
                    ts=e.ts,
                    list_ts=profile.list_ts,
                )
                if trigger is not None:
                    out.append((profile, inc, trigger, d, self._query(profile, bonus)))
                    profile.mark_published(e.ts, rounded[i], trigger=trigger)
        return out

    def _windows(
        self, users: list[tuple[UserProfile, list[Incoming]]], n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Item vectors of the last W events at each of the ``n`` new events (user-major), that
        event first: (n, W, D), mask (n, W)."""
        w = self.model.attention_window
        window = np.zeros((n, w, self.model.dim), dtype=np.float32)
        mask = np.zeros((n, w), dtype=bool)
        row = 0
        for profile, incs in users:
            history = [e.item_id for e in profile.recent]  # oldest first
            for inc in incs:
                history.append(inc.event.item_id)
                for k, item_id in enumerate(reversed(history[-w:])):
                    vec = None if item_id is None else self.index.vector(item_id)
                    if vec is not None:
                        window[row, k] = vec
                        mask[row, k] = True
                row += 1
        return window, mask

    def query(self, profile: UserProfile) -> Query:
        """Retrieval request for a profile's current interest, under the exclusion policy."""
        return self._query(profile, self.model.repeat_bonus())

    def _query(self, profile: UserProfile, bonus: np.ndarray | None) -> Query:
        """:meth:`query` with the model's repeat ``bonus`` already asked (once per batch)."""
        recent = tuple(
            (e.event_id, e.item_id, e.action) for e in profile.recent if e.item_id is not None
        )
        # The recent window's items (= profile.consumed()), read off ``recent``.
        exclude = frozenset() if self.exclude == "none" else frozenset([r[1] for r in recent])
        maybe = profile.consumed_filter if self.exclude == "consumed" else None
        newest_first = [e.item_id for e in reversed(profile.recent)]
        boost = repeat_boost(newest_first, bonus)
        cooc = self.model.cooccurrence(newest_first)
        return Query(profile.get().copy(), exclude, recent, maybe, boost, cooc)

    def recommend(self, profile: UserProfile, k: int | None = None) -> RecList:
        """An on-demand list (trigger ``request``) of ``k`` items (default ``top_k``); the
        profile is not changed."""
        n = self.top_k if k is None else k
        items = self.index.top_k([self.query(profile)], n, score=self.model.score)[0]
        drift = 0.0
        if profile.published is not None:
            drift = float(cosine_drift(profile.get()[None], profile.published[None])[0])
        return RecList(
            profile.user_id,
            items,
            "request",
            drift,
            self.model.version,
            profile.last_event_id,
            profile.last_ts,
            None,
        )
