"""The registry follower: every worker reads the whole registry topic and hot-swaps models.

Not an agent (agents share a topic's partitions across the workers of a group, and every worker
must see every promotion): a task with its own group-less consumer, restarted on errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

from streams.registry.transport import RegistryWatcher
from streams.worker.factory import Worker

log = logging.getLogger(__name__)


def register(w: Worker) -> dict[str, Any]:
    """Give the runtime the tables' readers and add the registry follower to ``w.app``."""
    app, catalog, profiles, runtime, settings = w.app, w.catalog, w.profiles, w.runtime, w.settings

    def _catalog_items() -> Iterator[tuple[bytes, bytes]]:
        """Every record of the catalog table, raw (decoded on the model thread during a swap)."""
        for key, value in catalog.items():
            if value is not None:
                yield bytes(key), bytes(value)

    def _profile_items() -> Iterator[tuple[bytes, bytes]]:
        """Every profile this worker holds, raw (for the background rebuild)."""
        for key, value in profiles.items():
            if value is not None:
                yield bytes(key), bytes(value)

    def _profile_get(key: bytes) -> bytes | None:
        value = profiles.get(key)
        return None if value is None else bytes(value)

    runtime.catalog_items = _catalog_items
    runtime.profile_items = _profile_items
    runtime.profile_get = _profile_get

    @app.task  # type: ignore[untyped-decorator]  # Faust's decorator is untyped
    async def follow_registry() -> None:
        """Follow the registry topic from where the start-up read ended; swap on every change."""
        if not settings.watch_registry:
            return
        await runtime.ready()
        delay = 1.0
        while True:
            watcher = RegistryWatcher(settings, runtime.registry_state, runtime.registry_offset)
            try:
                # Serve what the registry already says (a no-op unless start-up fell back to the
                # configured model or a swap failed before a restart of this loop), then follow it.
                await runtime.follow(runtime.registry_state)
                await watcher.run(runtime.follow)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                runtime.registry_offset = watcher.start
                log.error("registry watcher failed (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    return {"follow_registry": follow_registry}
