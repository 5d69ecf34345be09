"""The learning loop's part of the worker runtime: follow the registry, swap models live.

:meth:`HotSwap.follow` is called by the registry watcher on every change of champion or
challenger: the new weights load off the model thread (sharing the already loaded text encoder
when the checkpoint was trained with it), the catalog is re-embedded under the new model from the
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
from typing import TYPE_CHECKING, Any, TypeVar

from encoders.serving import ServingModel
from profiles.engine import Engine
from profiles.errors import ProfileError
from profiles.profile import UserProfile
from streams.messages.codec import decode_item
from streams.messages.records import RecordError
from streams.registry.state import RegistryState
from streams.worker.router import ModelRouter

if TYPE_CHECKING:  # the runtime composes this part; it is never imported from here at run time
    from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")
Wanted = tuple[str | None, str | None]  # (champion, challenger) versions to serve
REBUILD_CHUNK = 64  # ~0.1 s on a loaded 2-core CPU: the longest stall a waiting batch sees
SWAP_CHUNK = 256  # table records pulled per turn of the event loop (raw bytes: ~1 ms)
Raw = tuple[bytes, bytes]  # (key, value) of a table record


class HotSwap:
    """Swaps the models a :class:`~streams.worker.runtime.Runtime` serves, without a restart."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.swaps: list[dict[str, Any]] = []  # what each swap took (also in the metrics)
        self._lock: asyncio.Lock | None = None

    async def follow(self, state: RegistryState) -> None:
        """Serve what ``state`` asks for (called by the registry watcher on each change)."""
        rt = self.runtime
        await rt.ready()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            want = rt.wanted(state)
            if want[0] is None or want == rt.serving:
                return
            t0 = time.perf_counter()
            router = rt.router
            assert router is not None
            have: dict[str, Engine] = {e.model.version: e for e in router.engines()}
            current: Any = router.model
            try:
                loaded = {
                    v: await asyncio.to_thread(rt.serving_model, v, current)
                    for v in want
                    if v is not None and v not in have
                }
            except Exception as exc:  # keep serving what works
                log.error("swap to %s failed, still serving %s: %s", want, rt.serving, exc)
                return
            try:
                built = await self._build_engines(loaded)
            except Exception as exc:  # a table that vanished mid-swap, ...: keep serving
                log.error("swap to %s failed, still serving %s: %s", want, rt.serving, exc)
                return

            def install() -> ModelRouter:
                rt.sync_catalog()  # the last changes, into serving and new engines alike
                rt.building, rt.touched = [], set()
                engines = {v: e for v, e in have.items() if v in want}
                engines.update(built)
                assert want[0] is not None
                return rt.install(engines, want[0], want[1])

            new = await self._on_model_thread(install)
            seconds = time.perf_counter() - t0
            rt.metrics.loop.swaps.inc()
            rt.metrics.loop.swap_seconds.observe(seconds)
            info: dict[str, Any] = {"serving": new.versions(), "swap_s": round(seconds, 3)}
            log.info("hot swap: now serving %s (%.2fs)", new.versions(), seconds)
        if rt.settings.rebuild == "background":
            info.update(await self._rebuild_ahead(new))
        self.swaps.append(info)

    # --- the chunked parts of a swap --------------------------------------------------------
    async def _on_model_thread(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.runtime.executor, fn)

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
        rt = self.runtime

        def start() -> dict[str, Engine]:
            engines = {v: rt.new_engine(m, ()) for v, m in loaded.items()}
            rt.building, rt.touched = list(engines.values()), set()
            return engines

        engines = await self._on_model_thread(start)
        try:
            async for part in self._chunks(rt.catalog_items):
                await self._on_model_thread(partial(self._embed_chunk, part))
        except BaseException:
            await self._on_model_thread(lambda: rt.building.clear())
            raise
        return engines

    def _embed_chunk(self, part: list[Raw]) -> None:
        """Model thread: decode a chunk of catalog records and embed it in the new engines
        (items changed since the swap began were applied from the queue: newer, skipped)."""
        rt = self.runtime
        rt.sync_catalog()  # queued changes first: they are newer than the table read
        records = []
        limit = rt.settings.max_message_bytes * 4
        for key, value in part:
            if key.decode("utf-8", errors="replace") in rt.touched:
                continue
            try:
                records.append(decode_item(value, key, max_bytes=limit))
            except RecordError as exc:  # only valid records are ever written
                log.error("catalog table holds an invalid record %r: %s", key[:60], exc)
        for engine in rt.building:
            rt.embed_into(engine, records)

    async def _rebuild_ahead(self, router: ModelRouter) -> dict[str, Any]:
        """Rebuild the ``rebuild_ahead_max`` most recently active stale profiles this worker
        holds, in chunks on the model thread (events are processed between chunks).

        Two passes, so that memory stays bounded: a scan keeps (last event time, key) of the
        most recent ones in a heap of that size; their values are then read again and rebuilt.
        """
        rt = self.runtime
        t0 = time.perf_counter()
        keep = router.rebuilt_max
        policy = rt.settings.policy_config()
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
        async for part in self._chunks(rt.profile_items):
            if keep == 0 or rt.router is not router:
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
            if rt.router is not router:
                break  # swapped again meanwhile: the new router starts its own pass
            part = []
            for key in order[start : start + REBUILD_CHUNK]:
                raw = rt.profile_get(key)
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
