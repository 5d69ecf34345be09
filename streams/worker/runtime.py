"""The worker's runtime: one model thread, the item index, the engines and catalog sync.

All model work (item embedding, batched LSTM steps, retrieval) and every change of an in-memory
item index runs on ONE thread, so the event loop stays free for Kafka heartbeats and HTTP, and an
index is never read while it changes. Catalog changes (from the items agent or from the catalog
table's changelog, i.e. other workers) queue up as pending and are embedded in batches, text cache
first, before the next model job.

The runtime serves a :class:`~streams.worker.router.ModelRouter`: at start it reads the registry
topic and serves the **champion** (and, with ``ab_share`` > 0, the **challenger** for that share
of users) from the model store; with an empty registry (or ``DRIFTREC_WATCH_REGISTRY=false``) it
serves ``DRIFTREC_MODEL_DIR`` (or the untrained model) as the champion alone. What changes while
it runs, a hot swap on every registry change, is the job of its :class:`HotSwap` part
(:mod:`streams.worker.hotswap`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import torch

from encoders.serving import ServingModel
from profiles.contracts import ItemEmbedding
from profiles.engine import Engine, Recommender
from profiles.hitrate import HitTracker
from profiles.retrieval import ItemIndex
from streams.errors import StreamsError
from streams.messages.records import ItemRecord
from streams.registry.loader import load_serving
from streams.registry.state import RegistryState
from streams.registry.transport import read_state, store_path
from streams.settings import Settings
from streams.worker import heap
from streams.worker.hotswap import HotSwap, Raw, Wanted
from streams.worker.metrics import Metrics
from streams.worker.modelload import ModelLoader, load_model
from streams.worker.router import ModelRouter

log = logging.getLogger(__name__)
T = TypeVar("T")


class Runtime:
    """Model thread, catalog and engines of one worker; the engine is loaded on first use."""

    def __init__(
        self, settings: Settings, metrics: Metrics, loader: ModelLoader = load_model
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._loader = loader
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftrec-model")
        self._engine: ModelRouter | None = None
        self._loading: asyncio.Future[ModelRouter] | None = None
        self._pending: dict[str, ItemRecord | None] = {}
        self._pending_lock = threading.Lock()
        #: item_id -> error of items that could not be embedded (see :meth:`embed`).
        self.failed_items: dict[str, str] = {}
        # model -> its counters already moved; weak, so a retired model's entry goes with it and
        # a new model can never inherit one through a reused id().
        self._cache_seen: weakref.WeakKeyDictionary[Any, tuple[int, int]] = (
            weakref.WeakKeyDictionary()
        )
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
        #: Engines of a swap being filled (model thread only), and the items changed meanwhile.
        self.building: list[Engine] = []
        self.touched: set[str] = set()
        self.hotswap = HotSwap(self)  # the learning loop: follow the registry, swap models
        # Label sets known in advance start at 0, so rates and alerts see them from the start.
        for trigger in ("cold_start", "drift", "refresh"):
            metrics.lists_published.labels(trigger=trigger)
        for reason in ("model_version", "undecodable"):
            metrics.profile_resets.labels(reason=reason)

    # --- lifecycle -------------------------------------------------------------------------
    async def ready(self) -> Recommender:
        """The engine, loading the models on the model thread the first time."""
        if self._engine is not None:
            return self._engine
        if self._loading is None:
            self._loading = asyncio.get_running_loop().run_in_executor(self.executor, self._load)
        return await self._loading

    @property
    def engine(self) -> Recommender | None:
        """The engine when loaded, else None (health checks must not block)."""
        return self._engine

    @property
    def router(self) -> ModelRouter | None:
        """The engine as what it is: champion, optional challenger (None until loaded)."""
        return self._engine

    def _load(self) -> ModelRouter:
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
                champion = self.serving_model(want[0], None)
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
                challenger = self.serving_model(want[1], champion)
            except Exception as exc:
                log.error("challenger %s not loadable (%s); serving no challenger", want[1], exc)
        engines = {champion.version: self.new_engine(champion, ())}
        if challenger is not None:
            engines[challenger.version] = self.new_engine(challenger, ())
        router = self.install(
            engines, champion.version, None if challenger is None else challenger.version
        )
        log.info("serving %s, loaded in %.1fs", router.versions(), time.perf_counter() - started)
        self.sync_catalog()  # the catalog queued so far, into every engine
        if self.settings.gc_freeze:
            heap.freeze()
        return router

    def wanted(self, state: RegistryState) -> Wanted:
        """(champion, challenger) versions ``state`` asks this worker to serve."""
        challenger = state.challenger if self.settings.ab_share > 0 else None
        return state.champion, challenger

    def serving_model(self, version: str, share_with: ServingModel | None) -> ServingModel:
        """Load a registered model, reusing ``share_with``'s text encoder when it is the same."""
        encoder = None if share_with is None else share_with.encoder
        return load_serving(self.settings, store_path(self.settings, version), encoder)

    async def follow(self, state: RegistryState) -> None:
        """Serve what ``state`` asks for (called by the registry watcher on each change)."""
        await self.hotswap.follow(state)

    @property
    def swaps(self) -> list[dict[str, Any]]:
        """What each hot swap took (also in the metrics)."""
        return self.hotswap.swaps

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- model thread ----------------------------------------------------------------------
    async def run(self, fn: Callable[[Recommender], T]) -> T:
        """Run ``fn(engine)`` on the model thread after syncing pending catalog changes; the
        engine is taken when the job runs, so a job queued behind a swap uses the new models."""
        await self.ready()

        def job() -> T:
            self.sync_catalog()
            engine = self._engine
            assert engine is not None
            return fn(engine)

        return await asyncio.get_running_loop().run_in_executor(self.executor, job)

    # --- catalog ---------------------------------------------------------------------------
    def catalog_changed(self, changes: Iterable[tuple[str, ItemRecord | None]]) -> None:
        """Queue upserts (record) and deletes (None); any thread."""
        with self._pending_lock:
            for item_id, record in changes:
                self._pending[item_id] = record

    def has_pending(self) -> bool:
        with self._pending_lock:
            return bool(self._pending)

    def _count_cache(self, model: Any) -> None:
        """Move the model's text-cache hit and miss counters onto the Prometheus counters."""
        seen_hits, seen_misses = self._cache_seen.get(model, (0, 0))
        hits, misses = int(model.text_cache_hits), int(model.text_cache_misses)
        self.metrics.encoder_cache_hits.inc(max(0, hits - seen_hits))
        self.metrics.encoder_cache_misses.inc(max(0, misses - seen_misses))
        self._cache_seen[model] = (hits, misses)

    def embed(self, model: Any, records: list[ItemRecord]) -> list[ItemEmbedding]:
        """``model.embed_items`` in batches; a batch that raises is embedded item by item, and an
        item that still raises is left out of the index, logged, counted and queued in
        :attr:`failed_items` (the worker dead-letters it), so one bad item never stops the others
        nor the events (every model job syncs the catalog first)."""
        out: list[ItemEmbedding] = []
        step = self.settings.item_batch_max
        for start in range(0, len(records), step):
            chunk = records[start : start + step]
            t0 = time.perf_counter()
            try:
                out.extend(model.embed_items(chunk))
            except Exception:
                for record in chunk:
                    try:
                        out.extend(model.embed_items([record]))
                    except Exception as exc:
                        self._item_failed(record, exc)
            self.metrics.encode_seconds.observe(time.perf_counter() - t0)
        self._count_cache(model)
        return out

    def _item_failed(self, record: ItemRecord, exc: Exception) -> None:
        why = f"{type(exc).__name__}: {exc}"
        log.error("item %r could not be embedded, not (re-)indexed: %s", record.item_id, why)
        self.metrics.catalog_embed_failures.inc()
        with self._pending_lock:
            if len(self.failed_items) < 10_000:
                self.failed_items[record.item_id] = why

    def take_failed_items(self) -> dict[str, str]:
        """Items that could not be embedded since the last call: item_id -> error; any thread."""
        with self._pending_lock:
            failed, self.failed_items = self.failed_items, {}
        return failed

    def sync_catalog(self) -> None:
        """Model thread: queued catalog changes into every engine (serving, and being built)."""
        router = self._engine
        if router is None:
            return
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        upserts = [r for r in pending.values() if r is not None]
        if self.building:  # newer than what a swap reads from the table: it must not undo them
            self.touched.update(pending)
        for engine in [*router.engines(), *self.building]:
            for item_id, record in pending.items():
                if record is None:
                    engine.index.delete(item_id)
            self.embed_into(engine, upserts)
        self.metrics.catalog_items.set(len(router.index))
        if len(upserts) > 50:
            log.info("catalog: %d items embedded, %d in the index", len(upserts), len(router.index))

    def embed_into(self, engine: Engine, records: list[ItemRecord]) -> None:
        """Model thread: ``records`` embedded into ``engine``'s index (bad items left out)."""
        for emb in self.embed(engine.model, records):
            engine.index.upsert(emb.item_id, emb.vec, emb)

    # --- engines ---------------------------------------------------------------------------
    def new_engine(self, model: ServingModel, records: Iterable[ItemRecord]) -> Engine:
        """Model thread: an engine for ``model`` with ``records`` in its index."""
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
        self.embed_into(engine, list(records))
        return engine

    def install(
        self, engines: dict[str, Engine], champion: str, challenger: str | None
    ) -> ModelRouter:
        """Model thread: serve ``engines`` (by version) from now on, behind a new router."""
        old = self._engine
        if old is not None:
            heap.unfreeze()  # the retired model must be collectable (streams/worker/heap.py)
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
