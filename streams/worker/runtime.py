"""The worker's model side: one model thread, the item index, the engine and catalog sync.

All model work (item embedding, batched LSTM steps, retrieval) and every change of the in-memory
item index runs on ONE thread, so the event loop stays free for Kafka heartbeats and HTTP, and the
index is never read while it changes. Catalog changes (from the items agent or from the catalog
table's changelog, i.e. other workers) queue up as pending and are embedded in batches, text cache
first, before the next model job.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import torch

from encoders.serving import ServingModel
from profiles.contracts import ItemEmbedding
from profiles.engine import Engine
from profiles.retrieval import ItemIndex
from streams.errors import StreamsError
from streams.messages.records import ItemRecord
from streams.settings import Settings
from streams.worker.metrics import Metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
ModelLoader = Callable[[Settings], ServingModel]


def load_model(settings: Settings) -> ServingModel:
    """The serving model the settings name (an untrained one, with a warning, when none)."""
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    # Process-wide; set before the model exists so every later model call uses it.
    torch.set_num_threads(settings.torch_threads)
    return ServingModel.load(
        settings.model_dir,
        device=settings.device,
        cache_dir=settings.cache_dir,
        text_encoder=settings.text_encoder,
        text_memory=settings.text_memory_cache,
    )


def resolve_loader(settings: Settings) -> ModelLoader:
    """The model loader ``DRIFTREC_MODEL_LOADER`` names (``module:function``), else
    :func:`load_model`."""
    if not settings.model_loader:
        return load_model
    module_name, _, name = settings.model_loader.partition(":")
    try:
        loader = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise StreamsError(
            f"DRIFTREC_MODEL_LOADER={settings.model_loader!r} names no function ({exc}); "
            "expected module:function"
        ) from exc
    if not callable(loader):
        raise StreamsError(f"DRIFTREC_MODEL_LOADER={settings.model_loader!r} is not callable")
    return cast(ModelLoader, loader)


class Runtime:
    """Model, index and engine of one worker, created lazily on first use."""

    def __init__(
        self, settings: Settings, metrics: Metrics, loader: ModelLoader = load_model
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._loader = loader
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftrec-model")
        self._engine: Engine | None = None
        self._loading: asyncio.Future[Engine] | None = None
        self._pending: dict[str, ItemRecord | None] = {}
        self._pending_lock = threading.Lock()
        #: item_id -> error of items that could not be embedded (see :meth:`embed`).
        self.failed_items: dict[str, str] = {}
        # model -> its counters already moved; weak, so a retired model's entry goes with it and
        # a new model can never inherit one through a reused id().
        self._cache_seen: weakref.WeakKeyDictionary[Any, tuple[int, int]] = (
            weakref.WeakKeyDictionary()
        )
        # Label sets known in advance start at 0, so rates and alerts see them from the start.
        for trigger in ("cold_start", "drift", "refresh"):
            metrics.lists_published.labels(trigger=trigger)
        for reason in ("model_version", "undecodable"):
            metrics.profile_resets.labels(reason=reason)

    # --- lifecycle -------------------------------------------------------------------------
    async def ready(self) -> Engine:
        """The engine, loading the model on the model thread the first time."""
        if self._engine is not None:
            return self._engine
        if self._loading is None:
            self._loading = asyncio.get_running_loop().run_in_executor(self._executor, self._load)
        return await self._loading

    @property
    def engine(self) -> Engine | None:
        """The engine when loaded, else None (health checks must not block)."""
        return self._engine

    def _load(self) -> Engine:
        started = time.perf_counter()
        try:
            model = self._loader(self.settings)
        except Exception as exc:
            raise StreamsError(
                f"could not load the model (DRIFTREC_MODEL_DIR={self.settings.model_dir}): {exc}"
            ) from exc
        index: ItemIndex[ItemEmbedding] = ItemIndex(model.dim)
        self._engine = Engine(
            model,
            index,
            self.settings.policy_config(),
            top_k=self.settings.top_k,
            window=self.settings.recent_window,
            exclude=self.settings.exclude,
            filter_bytes=self.settings.exclude_filter_bytes,
        )
        self.metrics.model.info({"version": model.version, "device": str(model.device)})
        log.info(
            "model %s on %s loaded in %.1fs",
            model.version,
            model.device,
            time.perf_counter() - started,
        )
        self._sync_catalog()
        return self._engine

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- model thread ----------------------------------------------------------------------
    async def run(self, fn: Callable[[Engine], T]) -> T:
        """Run ``fn(engine)`` on the model thread after syncing pending catalog changes."""
        engine = await self.ready()

        def job() -> T:
            self._sync_catalog()
            return fn(engine)

        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

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

    def _sync_catalog(self) -> None:
        engine = self._engine
        if engine is None:
            return
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        index = engine.index
        upserts = [r for r in pending.values() if r is not None]
        for item_id, record in pending.items():
            if record is None:
                index.delete(item_id)
        for emb in self.embed(engine.model, upserts):
            index.upsert(emb.item_id, emb.vec, emb)
        self.metrics.catalog_items.set(len(index))
        if len(upserts) > 50:
            log.info("catalog: %d items embedded, %d in the index", len(upserts), len(index))
