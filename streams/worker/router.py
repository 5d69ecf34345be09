"""The engine a worker serves with: champion and optional challenger, users routed by stable hash.

:class:`ModelRouter` is a :class:`~profiles.engine.Recommender` to its callers, like one
:class:`~profiles.engine.Engine` (the behaviour batch and the web views call ``process`` and
``recommend`` on it, the health view reads ``model`` and ``index``: the champion's), and inside it:

* routes each user to the champion or, for ``share`` of users (:mod:`profiles.abtest`), to the
  challenger — each engine has its own model and its own item vectors;
* rebuilds every stored profile made by another model from its recent-event window
  (:mod:`profiles.rebuild`) before the engine sees it, batched across the batch's users; when a
  background rebuild already did it (``rebuilt``), the precomputed profile is used instead;
* feeds the live hit-rate tracker and exports outcomes, traffic and latency per model version.

It runs on the worker's single model thread, like every engine call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from profiles.abtest import Role, assign
from profiles.contracts import InterestModel, ItemEmbedding
from profiles.engine import BatchResult, Engine, Incoming, RecList
from profiles.hitrate import HitTracker, RollingRate
from profiles.profile import UserProfile
from profiles.rebuild import rebuild
from profiles.retrieval import ItemIndex
from streams.worker.metrics import LoopMetrics

log = logging.getLogger(__name__)


class ModelRouter:
    """Champion + optional challenger behind the one-engine interface (a ``Recommender``)."""

    def __init__(
        self,
        champion: Engine,
        challenger: Engine | None,
        *,
        share: float,
        tracker: HitTracker,
        metrics: LoopMetrics,
        clock: Callable[[], float] = time.time,
        rebuilt_max: int = 10_000,
    ) -> None:
        self.champion = champion
        self.challenger = challenger
        self.share = share if challenger is not None else 0.0
        self.tracker = tracker
        self.metrics = metrics
        self.clock = clock
        self.rates: dict[str, RollingRate] = {}
        #: Profiles rebuilt ahead of time by a background pass, by user id; at most
        #: ``rebuilt_max`` are held (the memory bound of a swap).
        self.rebuilt: dict[str, UserProfile] = {}
        self.rebuilt_max = rebuilt_max

    @property
    def model(self) -> InterestModel:
        """The champion's model (what the health view reports)."""
        return self.champion.model

    @property
    def index(self) -> ItemIndex[ItemEmbedding]:
        """The champion's item index."""
        return self.champion.index

    # --- routing ---------------------------------------------------------------------------
    def engines(self) -> list[Engine]:
        return [self.champion] if self.challenger is None else [self.champion, self.challenger]

    def role_of(self, user_id: str) -> Role:
        if self.challenger is None or self.share <= 0.0:
            return "champion"
        return assign(user_id, self.share, salt=self.challenger.model.version)

    def engine_for(self, user_id: str) -> Engine:
        if self.role_of(user_id) == "challenger" and self.challenger is not None:
            return self.challenger
        return self.champion

    def versions(self) -> dict[str, str]:
        """role -> model version served."""
        out = {"champion": self.champion.model.version}
        if self.challenger is not None:
            out["challenger"] = self.challenger.model.version
        return out

    # --- the engine interface --------------------------------------------------------------
    def process(
        self, batch: Sequence[Incoming], stored: Mapping[str, UserProfile | None]
    ) -> BatchResult:
        groups: dict[int, list[Incoming]] = {}
        engines = self.engines()
        for inc in batch:
            eng = self.engine_for(inc.event.user_id)
            groups.setdefault(engines.index(eng), []).append(inc)
        merged = BatchResult()
        for i, part in groups.items():
            eng = engines[i]
            users = {inc.event.user_id for inc in part}
            ready = self.prepare(eng, {u: stored.get(u) for u in users})
            result = eng.process(part, ready)
            self._account(eng, result)
            merged.merge(result)
        served = set(self.versions().values())
        for outcome in self.tracker.batch(batch, merged):
            if outcome.model_version not in served:
                continue  # a list of a retired model: its series are gone (LoopMetrics.retire)
            rate = self.rates.setdefault(outcome.model_version, RollingRate())
            self.metrics.list_outcomes.labels(
                model_version=outcome.model_version, outcome="hit" if outcome.hit else "miss"
            ).inc()
            self.metrics.hit_rate.labels(model_version=outcome.model_version).set(
                rate.add(outcome.hit)
            )
        return merged

    def recommend(self, profile: UserProfile, k: int | None = None) -> RecList:
        eng = self.engine_for(profile.user_id)
        ready = self.prepare(eng, {profile.user_id: profile.copy()})[profile.user_id]
        assert ready is not None
        return eng.recommend(ready, k)

    # --- rebuilds --------------------------------------------------------------------------
    def prepare(
        self, eng: Engine, stored: Mapping[str, UserProfile | None]
    ) -> dict[str, UserProfile | None]:
        """``stored`` with every profile of another model replaced by its rebuild (lazy)."""
        out = dict(stored)
        stale: list[UserProfile] = []
        version = eng.model.version
        for user, profile in stored.items():
            if profile is None or profile.model_version == version:
                continue
            early = self.rebuilt.pop(user, None)
            if early is not None:
                self.metrics.rebuilt_held.set(len(self.rebuilt))
            if (
                early is not None
                and early.model_version == version
                and early.last_event_id == profile.last_event_id
                and early.events_applied == profile.events_applied
            ):
                out[user] = early
                self.metrics.rebuilds.labels(mode="background_used").inc()
            else:
                stale.append(profile)
        if stale:
            t0 = time.perf_counter()
            stats = rebuild(stale, eng.model, eng.index)
            self.metrics.rebuild_seconds.labels(mode="lazy").observe(time.perf_counter() - t0)
            self.metrics.rebuilds.labels(mode="lazy").inc(stats.profiles)
        return out

    def is_stale(self, profile: UserProfile) -> bool:
        """True when ``profile`` was made by another model than the one serving its user."""
        return profile.model_version != self.engine_for(profile.user_id).model.version

    def rebuild_ahead(self, profiles: Sequence[UserProfile]) -> int:
        """Background pass: rebuild ``profiles`` now and keep them for the users' next events,
        as many as there is room for (``rebuilt_max``)."""
        room = max(0, self.rebuilt_max - len(self.rebuilt))
        by_engine: dict[int, list[UserProfile]] = {}
        engines = self.engines()
        for p in profiles:
            if room == 0:
                break
            if self.is_stale(p) and p.user_id not in self.rebuilt:
                by_engine.setdefault(engines.index(self.engine_for(p.user_id)), []).append(p)
                room -= 1
        done = 0
        for i, todo in by_engine.items():
            t0 = time.perf_counter()
            rebuild(todo, engines[i].model, engines[i].index)
            self.metrics.rebuild_seconds.labels(mode="background").observe(time.perf_counter() - t0)
            self.metrics.rebuilds.labels(mode="background").inc(len(todo))
            for p in todo:
                self.rebuilt[p.user_id] = p
            done += len(todo)
        self.metrics.rebuilt_held.set(len(self.rebuilt))
        return done

    def _account(self, eng: Engine, result: BatchResult) -> None:
        version = eng.model.version
        role = "challenger" if eng is self.challenger else "champion"
        self.metrics.events_by_model.labels(model_version=version, role=role).inc(result.applied)
        now = self.clock()
        for rec in result.lists:
            if rec.event_ts is not None:
                self.metrics.latency_by_model.labels(model_version=version).observe(
                    max(0.0, now - rec.event_ts)
                )
