"""The registry follower: every worker reads the whole registry topic and hot-swaps models.

Not an agent (agents share a topic's partitions across the workers of a group, and every worker
must see every promotion): a task with its own group-less consumer, restarted on errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from streams.messages.codec import decode_item
from streams.messages.records import ItemRecord, RecordError
from streams.registry.transport import RegistryWatcher
from streams.worker.app import app, catalog, profiles, runtime, settings

log = logging.getLogger(__name__)


def _catalog_records() -> Iterator[ItemRecord]:
    """Every record of the catalog table (for re-embedding the catalog under a new model)."""
    for key, value in catalog.items():
        try:
            yield decode_item(value, bytes(key), max_bytes=settings.max_message_bytes * 4)
        except RecordError as exc:  # only valid records are ever written
            log.error("catalog table holds an invalid record %r: %s", bytes(key)[:60], exc)


def _profile_values() -> Iterator[bytes]:
    """Every profile this worker holds (for the background rebuild)."""
    for _key, value in profiles.items():
        if value is not None:
            yield bytes(value)


runtime.catalog_records = _catalog_records
runtime.profile_values = _profile_values


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
