"""The driftrec Faust app, built by one factory: :func:`create_app` (settings in, worker out).

Topics (docs/contracts.md), the two tables (per-user profiles, partitioned like the events
topic; the global catalog, every worker holds all of it) and the worker runtime are declared here;
agents, timers and web views live in their own modules, each with a ``register(worker)`` that adds
them to the app the factory builds. ``streams.worker.app`` holds the one module-level app that
``faust -A`` needs; ``driftrec worker`` and tests build theirs with their own settings (tests with
their own metrics registry and model loader too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import faust
from prometheus_client import REGISTRY, CollectorRegistry

from streams.faustcompat import acks
from streams.faustcompat.localstate import STORE_URL
from streams.messages.codec import decode_item
from streams.messages.records import ItemRecord, RecordError
from streams.settings import Settings
from streams.worker.faustcfg import app_config
from streams.worker.metrics import Metrics
from streams.worker.modelload import ModelLoader, resolve_loader
from streams.worker.progress import Progress
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Worker:
    """One worker's app and everything its agents, timers and views share."""

    settings: Settings
    metrics: Metrics
    runtime: Runtime
    progress: Progress  # is the events agent consuming? (/health)
    app: faust.App
    events_topic: Any
    items_topic: Any
    recommendations_topic: Any
    events_dlq: Any
    items_dlq: Any
    profiles: Any  # Table[bytes, bytes]
    catalog: Any  # GlobalTable[bytes, bytes]
    #: What the modules registered, by name (agents, timers, tasks, batch handlers).
    parts: dict[str, Any] = field(default_factory=dict)


def create_app(
    settings: Settings,
    registry: CollectorRegistry = REGISTRY,
    loader: ModelLoader | None = None,
) -> Worker:
    """Build a worker's Faust app from ``settings``, its metrics on ``registry``; the model from
    ``loader`` (default: the one the settings name, :func:`resolve_loader`)."""
    metrics = Metrics(registry)
    runtime = Runtime(settings, metrics, loader or resolve_loader(settings))
    # Before any consumer exists: skipped messages must not move the commit
    # (streams/faustcompat/acks.py).
    acks.install()
    app = faust.App(settings.app_id, **app_config(settings))

    def _topic(name: str, partitions: int, **kwargs: Any) -> Any:
        # internal=True: Faust creates the topic (with these partitions) when it does not exist.
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions,
            internal=True,
            **kwargs,
        )

    def _catalog_change(key: bytes, value: bytes | None) -> tuple[str, ItemRecord | None]:
        item_id = key.decode("utf-8")
        if value is None:
            return item_id, None
        return item_id, decode_item(value, key, max_bytes=settings.max_message_bytes * 4)

    async def _on_catalog_changelog(event: Any) -> None:
        """Catalog changes written by any worker (recovery and standby reads) -> index."""
        key, value = event.message.key, event.message.value
        if key is None:
            return
        try:
            runtime.catalog_changed([_catalog_change(key, value)])
        except (RecordError, UnicodeDecodeError) as exc:  # only valid records are ever written
            log.error("catalog changelog holds an invalid record %r: %s", key[:60], exc)

    # bytes keys and values: Faust uses the raw codec; profiles are packed by profiles.profile.
    profiles = app.Table(
        "profiles",
        key_type=bytes,
        value_type=bytes,
        store=STORE_URL,
        partitions=settings.partitions,
    )
    # One partition and a recovery buffer of one: the configuration Faust documents for a
    # GlobalTable shared by several workers (see faust.tables.globaltable).
    catalog = app.GlobalTable(
        "catalog",
        key_type=bytes,
        value_type=bytes,
        store=STORE_URL,
        partitions=1,
        recovery_buffer_size=1,
        on_changelog_event=_on_catalog_changelog,
    )

    @catalog.on_recover
    async def _catalog_recovered() -> None:
        """After (re)covery, queue the whole stored catalog (local RocksDB data is not replayed)."""
        changes = []
        for key, value in catalog.items():
            try:
                changes.append(_catalog_change(bytes(key), value))
            except (RecordError, UnicodeDecodeError) as exc:
                log.error("catalog table holds an invalid record %r: %s", key[:60], exc)
        runtime.catalog_changed(changes)
        log.info("catalog recovered: %d items queued for the index", len(changes))

    @app.task  # type: ignore[untyped-decorator]  # Faust's decorator is untyped
    async def _warm_up() -> None:
        """Load the model as soon as the worker starts, not on the first event."""
        await runtime.ready()

    worker = Worker(
        settings=settings,
        metrics=metrics,
        runtime=runtime,
        progress=Progress(settings.stall_after_s),
        app=app,
        events_topic=_topic(settings.events_topic, settings.partitions),
        items_topic=_topic(settings.items_topic, 1, compacting=True),
        recommendations_topic=_topic(settings.recommendations_topic, settings.partitions),
        events_dlq=_topic(settings.dlq_topic(settings.events_topic), 1),
        items_dlq=_topic(settings.dlq_topic(settings.items_topic), 1),
        profiles=profiles,
        catalog=catalog,
    )
    # Agents, timers and views add themselves to the app (items before housekeeping: the catalog
    # sync dead-letters through the items agent's writer).
    from streams.worker import views
    from streams.worker.agents import events, housekeeping, items, models

    for module in (views, events, items, housekeeping, models):
        worker.parts.update(module.register(worker))
    return worker
