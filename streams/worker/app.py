"""The driftrec Faust app: ``faust -A streams.worker.app worker`` or ``driftrec worker``.

Topics (docs/contracts.md), the two tables (per-user profiles, partitioned like the events
topic; the global catalog, every worker holds all of it) and the worker runtime are declared here;
agents and web views live in their own modules and register on import at the bottom.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from prometheus_client import REGISTRY

from streams.faustcompat import acks
from streams.faustcompat.localstate import STORE_URL
from streams.faustcompat.version import FaustVersionError, check_faust_version
from streams.messages.codec import decode_item
from streams.messages.records import ItemRecord, RecordError
from streams.settings import get_settings
from streams.worker.faustcfg import app_config
from streams.worker.loopruntime import LoopRuntime
from streams.worker.metrics import Metrics
from streams.worker.progress import Progress
from streams.worker.runtime import resolve_loader

log = logging.getLogger(__name__)
try:  # `faust -A streams.worker.app worker` imports this module first: stop with one line
    check_faust_version()
except FaustVersionError as exc:
    raise SystemExit(f"driftrec worker: {exc}") from None
settings = get_settings()
metrics = Metrics(REGISTRY)
runtime = LoopRuntime(settings, metrics, resolve_loader(settings))  # + registry hot swap
progress = Progress(settings.stall_after_s)  # is the events agent consuming? (/health)

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


events_topic = _topic(settings.events_topic, settings.partitions)
items_topic = _topic(settings.items_topic, 1, compacting=True)
recommendations_topic = _topic(settings.recommendations_topic, settings.partitions)
events_dlq = _topic(settings.dlq_topic(settings.events_topic), 1)
items_dlq = _topic(settings.dlq_topic(settings.items_topic), 1)


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


# Agents and views register themselves on the app.
from streams.worker import views as _views  # noqa: E402,F401
from streams.worker.agents import events as _events  # noqa: E402,F401
from streams.worker.agents import housekeeping as _housekeeping  # noqa: E402,F401
from streams.worker.agents import items as _items  # noqa: E402,F401
from streams.worker.agents import models as _models  # noqa: E402,F401
