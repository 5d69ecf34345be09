"""The worker runtime of the learning loop: serve what the registry says, swap without a restart.

:class:`LoopRuntime` extends :class:`streams.worker.runtime.Runtime` (one model thread, catalog
sync):

* at start it reads the registry topic and serves the **champion** (and, with ``ab_share`` > 0,
  the **challenger** for that share of users) from the model store; with an empty registry it
  serves ``DRIFTREC_MODEL_DIR`` (or the untrained model) as before;
* :meth:`follow` is called by the registry watcher on every change of champion or challenger: the
  new weights load off the model thread (sharing the already loaded text encoder when the
  checkpoint was trained with it), the catalog is re-embedded under the new model from the
  catalog table (text vectors come from the persistent cache), and the new
  :class:`~streams.worker.router.ModelRouter` replaces the old one between two model jobs. Events
  keep flowing meanwhile; nothing restarts and no profile is dropped: each profile is rebuilt from
  its recent-event window, lazily when its user's next event arrives or ahead of time by a
  background pass over the profiles this worker holds (``DRIFTREC_REBUILD``).

A swap never holds the event loop (which serves HTTP and feeds the agents) for more than one
chunk: the event loop only pulls raw bytes from the tables, ``SWAP_CHUNK`` records at a time;
decoding, embedding and rebuilding run on the model thread, one chunk per job, so event batches
interleave with them. Memory is bounded too: catalog records live one chunk at a time (the new
engines are filled chunk by chunk, and catalog changes that arrive meanwhile are applied to them
as to the serving ones), and the background pass keeps only the ``DRIFTREC_REBUILD_AHEAD_MAX``
most recently active profiles (a scan keeps their keys; they are read again and rebuilt in
chunks); the others are rebuilt lazily on their user's next event.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from functools import partial
from itertools import islice
from typing import Any, TypeVar

import torch

from encoders.serving import ServingModel
from profiles.contracts import ItemEmbedding
from profiles.engine import Engine
from profiles.errors import ProfileError
from profiles.hitrate import HitTracker
from profiles.profile import UserProfile
from profiles.retrieval import ItemIndex
from streams.errors import StreamsError
from streams.messages.codec import decode_item
from streams.messages.records import ItemRecord, RecordError
from streams.registry.loader import load_serving
from streams.registry.state import RegistryState
from streams.registry.transport import read_state, store_path
from streams.settings import Settings
from streams.worker.metrics import Metrics
from streams.worker.router import ModelRouter
from streams.worker.runtime import ModelLoader, Runtime, load_model

log = logging.getLogger(__name__)
T = TypeVar("T")
Wanted = tuple[str | None, str | None]  # (champion, challenger) versions to serve
REBUILD_CHUNK = 64  # ~0.1 s on a loaded 2-core CPU: the longest stall a waiting batch sees
SWAP_CHUNK = 256  # table records pulled per turn of the event loop (raw bytes: ~1 ms)
Raw = tuple[bytes, bytes]  # (key, value) of a table record


class LoopRuntime(Runtime):
    """A runtime whose engine is a :class:`ModelRouter` that follows the registry."""

    def __init__(
        self, settings: Settings, metrics: Metrics, loader: ModelLoader = load_model
    ) -> None:
        super().__init__(settings, metrics, loader)
        self.tracker = HitTracker(settings.hit_window)
        self.registry_state = RegistryState()
        self.registry_offset = 0
        self.serving: Wanted = (None, None)
        #: Set by the app: the catalog table's records (re-embedded under a new model), the
        #: profiles this worker holds (for the background rebuild) and one profile by key. Raw
        #: bytes, iterated on the event loop; decoded on the model thread.
        self.catalog_items: Callable[[], Iterable[Raw]] = list
        self.profile_items: Callable[[], Iterable[Raw]] = list
        self.profile_get: Callable[[bytes], bytes | None] = lambda _key: None
        self.swaps: list[dict[str, Any]] = []  # what each swap took (also in the metrics)
        self._swap_lock: asyncio.Lock | None = None
        #: Engines of a swap being filled (model thread only), and the items changed meanwhile.
        self._building: list[Engine] = []
        self._touched: set[str] = set()

    @property
    def router(self) -> ModelRouter | None:
        engine = self._engine
        return engine if isinstance(engine, ModelRouter) else None

    # --- start -----------------------------------------------------------------------------
    def _load(self) -> Engine:
        started = time.perf_counter()
        self.settings.cache_dir.mkdir(parents=True, exist_ok=True)
        # Process-wide, before any model exists (as load_model does; see Settings.torch_threads).
        torch.set_num_threads(self.settings.torch_threads)
        want: Wanted = (None, None)
        if self.settings.watch_registry:
            try:
                self.registry_state, self.registry_offset = read_state(self.settings)
                want = self.wanted(self.registry_state)
            except Exception as exc:  # serve the configured model rather than nothing
                log.error("model registry unreadable (%s); serving DRIFTREC_MODEL_DIR", exc)
        champion: ServingModel | None = None
        if want[0] is not None:
            try:
                champion = self._serving_model(want[0], None)
            except Exception as exc:  # e.g. not in this machine's store: serve the configured
                log.error("champion %s not loadable (%s); serving DRIFTREC_MODEL_DIR", want[0], exc)
                want = (None, None)
        try:
            champion = champion or self._loader(self.settings)
        except Exception as exc:
            raise StreamsError(
                f"could not load the model (DRIFTREC_MODEL_DIR={self.settings.model_dir}): {exc}"
            ) from exc
        challenger = None
        if want[1] is not None:
            try:
                challenger = self._serving_model(want[1], champion)
            except Exception as exc:
                log.error("challenger %s not loadable (%s); serving no challenger", want[1], exc)
        engines = {champion.version: self._new_engine(champion, ())}
        if challenger is not None:
            engines[challenger.version] = self._new_engine(challenger, ())
        router = self._install(
            engines, champion.version, None if challenger is None else challenger.version
        )
        log.info("serving %s, loaded in %.1fs", router.versions(), time.perf_counter() - started)
        self._sync_catalog()  # the catalog queued so far, into every engine
        return router

    def wanted(self, state: RegistryState) -> Wanted:
        challenger = state.challenger if self.settings.ab_share > 0 else None
        return state.champion, challenger

    # --- the model thread ------------------------------------------------------------------
    async def run(self, fn: Callable[[Engine], T]) -> T:
        """Like :meth:`Runtime.run`, but the engine is taken when the job runs, so a job queued
        behind a swap already uses the new models."""
        await self.ready()

        def job() -> T:
            self._sync_catalog()
            engine = self._engine
            assert engine is not None
            return fn(engine)

        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    def _sync_catalog(self) -> None:
        router = self.router
        if router is None:
            return
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        upserts = [r for r in pending.values() if r is not None]
        if self._building:  # newer than what the swap reads from the table: it must not undo them
            self._touched.update(pending)
        for engine in [*router.engines(), *self._building]:
            for item_id, record in pending.items():
                if record is None:
                    engine.index.delete(item_id)
            self._embed(engine, upserts)
        self.metrics.catalog_items.set(len(router.index))

    def _embed(self, engine: Engine, records: list[ItemRecord]) -> None:
        for emb in self.embed(engine.model, records):  # one bad item never stops the others
            engine.index.upsert(emb.item_id, emb.vec, emb)

    def _new_engine(self, model: ServingModel, records: Iterable[ItemRecord]) -> Engine:
        index: ItemIndex[ItemEmbedding] = ItemIndex(model.dim)
        engine = Engine(
            model,
            index,
            self.settings.policy_config(),
            top_k=self.settings.top_k,
            window=self.settings.recent_window,
            exclude=self.settings.exclude,
            filter_bytes=self.settings.exclude_filter_bytes,
        )
        self._embed(engine, list(records))
        return engine

    def _install(
        self, engines: dict[str, Engine], champion: str, challenger: str | None
    ) -> ModelRouter:
        old = self.router
        router = ModelRouter(
            engines[champion],
            None if challenger is None else engines[challenger],
            share=self.settings.ab_share,
            tracker=self.tracker,
            metrics=self.metrics.loop,
            rebuilt_max=self.settings.rebuild_ahead_max,
        )
        if old is not None:
            router.rates = old.rates  # rolling hit rates continue across swaps
            # Profiles rebuilt ahead for a model that still serves the same user stay usable.
            kept = [
                (u, p)
                for u, p in old.rebuilt.items()
                if p.model_version == router.engine_for(u).model.version
            ]
            router.rebuilt = dict(kept[: router.rebuilt_max])
        self.metrics.loop.rebuilt_held.set(len(router.rebuilt))
        serving = self.metrics.loop.serving
        now = router.versions()
        for role, version in router.versions().items():
            serving.labels(model_version=version, role=role).set(1)
        if old is not None:
            for role, version in old.versions().items():
                if now.get(role) != version:  # e.g. a challenger promoted: its old role goes
                    serving.remove_by_labels({"model_version": version, "role": role})
            for version in set(old.versions().values()) - set(now.values()):
                self.metrics.loop.retire(version)
                router.rates.pop(version, None)
        model: Any = router.model
        self.metrics.model.info({"version": model.version, "device": str(model.device)})
        self._engine = router
        self.serving = (champion, challenger)
        return router

    # --- hot swap --------------------------------------------------------------------------
    def _serving_model(self, version: str, share_with: ServingModel | None) -> ServingModel:
        """Load a registered model, reusing ``share_with``'s text encoder when it is the same."""
        encoder = None if share_with is None else share_with.encoder
        return load_serving(self.settings, store_path(self.settings, version), encoder)

    async def follow(self, state: RegistryState) -> None:
        """Serve what ``state`` asks for (called by the registry watcher on each change)."""
        await self.ready()
        if self._swap_lock is None:
            self._swap_lock = asyncio.Lock()
        async with self._swap_lock:
            want = self.wanted(state)
            if want[0] is None or want == self.serving:
                return
            t0 = time.perf_counter()
            router = self.router
            assert router is not None
            have: dict[str, Engine] = {e.model.version: e for e in router.engines()}
            current: Any = router.model
            try:
                loaded = {
                    v: await asyncio.to_thread(self._serving_model, v, current)
                    for v in want
                    if v is not None and v not in have
                }
            except Exception as exc:  # keep serving what works
                log.error("swap to %s failed, still serving %s: %s", want, self.serving, exc)
                return
            loop = asyncio.get_running_loop()
            try:
                built = await self._build_engines(loaded)
            except Exception as exc:  # a table that vanished mid-swap, ...: keep serving
                log.error("swap to %s failed, still serving %s: %s", want, self.serving, exc)
                return

            def install() -> ModelRouter:
                self._sync_catalog()  # the last changes, into serving and new engines alike
                self._building, self._touched = [], set()
                engines = {v: e for v, e in have.items() if v in want}
                engines.update(built)
                assert want[0] is not None
                return self._install(engines, want[0], want[1])

            new = await loop.run_in_executor(self._executor, install)
            seconds = time.perf_counter() - t0
            self.metrics.loop.swaps.inc()
            self.metrics.loop.swap_seconds.observe(seconds)
            info: dict[str, Any] = {"serving": new.versions(), "swap_s": round(seconds, 3)}
            log.info("hot swap: now serving %s (%.2fs)", new.versions(), seconds)
        if self.settings.rebuild == "background":
            info.update(await self._rebuild_ahead(new))
        self.swaps.append(info)

    # --- the chunked parts of a swap --------------------------------------------------------
    async def _on_model_thread(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _chunks(self, source: Callable[[], Iterable[Raw]]) -> AsyncIterator[list[Raw]]:
        """``source`` in chunks of ``SWAP_CHUNK`` records; the event loop runs between them.

        A table whose partitions change while it is read (a rebalance) ends the reading early:
        Faust's store raises RuntimeError (its dict of partitions changed size).
        """
        it = iter(source())
        while True:
            try:
                part = list(islice(it, SWAP_CHUNK))
            except RuntimeError as exc:
                log.warning("table changed while a swap read it (%s); stopped reading", exc)
                return
            if not part:
                return
            yield part
            await asyncio.sleep(0)

    async def _build_engines(self, loaded: dict[str, ServingModel]) -> dict[str, Engine]:
        """New engines for ``loaded``, their item index filled from the catalog table."""
        if not loaded:
            return {}

        def start() -> dict[str, Engine]:
            engines = {v: self._new_engine(m, ()) for v, m in loaded.items()}
            self._building, self._touched = list(engines.values()), set()
            return engines

        engines = await self._on_model_thread(start)
        try:
            async for part in self._chunks(self.catalog_items):
                await self._on_model_thread(partial(self._embed_chunk, part))
        except BaseException:
            await self._on_model_thread(lambda: self._building.clear())
            raise
        return engines

    def _embed_chunk(self, part: list[Raw]) -> None:
        """Model thread: decode a chunk of catalog records and embed it in the new engines
        (items changed since the swap began were applied from the queue: newer, skipped)."""
        self._sync_catalog()  # queued changes first: they are newer than the table read
        records = []
        limit = self.settings.max_message_bytes * 4
        for key, value in part:
            if key.decode("utf-8", errors="replace") in self._touched:
                continue
            try:
                records.append(decode_item(value, key, max_bytes=limit))
            except RecordError as exc:  # only valid records are ever written
                log.error("catalog table holds an invalid record %r: %s", key[:60], exc)
        for engine in self._building:
            self._embed(engine, records)

    async def _rebuild_ahead(self, router: ModelRouter) -> dict[str, Any]:
        """Rebuild the ``rebuild_ahead_max`` most recently active stale profiles this worker
        holds, in chunks on the model thread (events are processed between chunks).

        Two passes, so that memory stays bounded: a scan keeps (last event time, key) of the
        most recent ones in a heap of that size; their values are then read again and rebuilt.
        """
        t0 = time.perf_counter()
        keep = router.rebuilt_max
        policy = self.settings.policy_config()
        recent: list[tuple[float, bytes]] = []  # min-heap: the oldest of the kept on top

        def scan(part: list[Raw]) -> list[tuple[float, bytes]]:
            out = []
            for key, raw in part:
                try:
                    profile = UserProfile.from_bytes(raw, policy)
                except ProfileError:
                    continue
                if router.is_stale(profile):
                    out.append((profile.last_ts or 0.0, key))
            return out

        scanned = 0
        async for part in self._chunks(self.profile_items):
            if keep == 0 or self._engine is not router:
                break
            scanned += len(part)
            for entry in await self._on_model_thread(partial(scan, part)):
                if len(recent) < keep:
                    heapq.heappush(recent, entry)
                elif entry > recent[0]:
                    heapq.heapreplace(recent, entry)
        order = [key for _, key in sorted(recent, reverse=True)]  # most recent first
        del recent

        def rebuild_chunk(part: list[Raw]) -> int:
            profiles = []
            for _key, raw in part:
                try:
                    profiles.append(UserProfile.from_bytes(raw, policy))
                except ProfileError:
                    continue
            return router.rebuild_ahead(profiles)

        done = 0
        for start in range(0, len(order), REBUILD_CHUNK):
            if self._engine is not router:
                break  # swapped again meanwhile: the new router starts its own pass
            part = []
            for key in order[start : start + REBUILD_CHUNK]:
                raw = self.profile_get(key)
                if raw is not None:
                    part.append((key, raw))
            done += await self._on_model_thread(partial(rebuild_chunk, part))
        seconds = time.perf_counter() - t0
        log.info(
            "background rebuild: %d of %d profiles in %.2fs (at most %d held)",
            done,
            scanned,
            seconds,
            keep,
        )
        return {"rebuilt_ahead": done, "rebuild_ahead_s": round(seconds, 3)}
