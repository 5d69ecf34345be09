"""RocksDB table stores that detect damaged local state and rebuild it from the changelog.

Faust keeps each table partition in its own RocksDB folder (``<tabledir>/<table>-<N>.db``); the
table's changelog topic holds the same data. A folder that RocksDB cannot open (a missing or
corrupted ``CURRENT`` or ``MANIFEST``, a half-copied backup, a truncated disk) crashes Faust's own
store at partition assignment. :class:`CheckedRocksDBStore` instead moves the folder aside into
``<datadir>/quarantine/`` (kept for a post-mortem; delete it freely), logs one error line naming the
path, what was wrong and what was done, and opens an empty folder in its place. An empty folder has
no persisted changelog offset, so Faust restores the partition from the start of its changelog:
the profiles come back exactly as the changelog has them.

Tables choose it with ``store=STORE_URL`` (``rocksdb-checked://``), which is registered with
Faust's store registry when this module is imported. Lock errors (another process still holds the
folder) are not damage: they are re-raised for Faust's own retry loop.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import faust.stores
from faust.stores.rocksdb import Store as RocksDBStore

from streams.errors import StreamsError

log = logging.getLogger(__name__)

#: The store URL of every driftrec table.
STORE_URL: Final = "rocksdb-checked://"
QUARANTINE: Final = "quarantine"


class LocalStateError(StreamsError):
    """A table folder could not be opened even after it was moved aside."""


def is_lock_error(exc: BaseException) -> bool:
    """True for "another process (or this one) holds the LOCK file"; Faust retries those.

    RocksDB names the file in upper case in both forms: ``While lock file: <db>/LOCK: ...`` and
    ``lock hold by current process ... <db>/LOCK: ...``.
    """
    return "/LOCK" in str(exc)


def damage(path: Path) -> str | None:
    """What is visibly wrong with a RocksDB folder before opening it (None: nothing seen).

    RocksDB itself reports most damage on open; this catches the one case it does not report the
    second time: without ``CURRENT`` a failed open leaves a fresh, empty ``CURRENT`` behind.
    """
    if not path.is_dir():
        return None
    names = {p.name for p in path.iterdir()}
    has_data = any(n.startswith("MANIFEST-") or n.endswith((".sst", ".log")) for n in names)
    if has_data and "CURRENT" not in names:
        return "the CURRENT file is missing"
    return None


def quarantine(path: Path, now: datetime | None = None) -> Path:
    """Move a damaged table folder to ``<datadir>/quarantine/<name>.<UTC time>``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    target_dir = path.parent.parent / QUARANTINE
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{path.name}.{stamp}"
    shutil.move(str(path), str(target))
    return target


class CheckedRocksDBStore(RocksDBStore):
    """Faust's RocksDB store, rebuilding a partition whose folder cannot be opened."""

    def _open_for_partition(self, partition: int) -> Any:
        path = Path(self.partition_path(partition))
        problem = damage(path)
        if problem is None:
            try:
                return super()._open_for_partition(partition)
            except Exception as exc:  # rocksdict raises plain Exception for every RocksDB error
                if is_lock_error(exc):
                    raise
                problem = f"RocksDB cannot open it: {exc}"
        moved = quarantine(path)
        topic = self.table.changelog_topic.get_topic_name()
        log.error(
            "LOCAL STATE DAMAGED: table %r partition %d at %s: %s. Moved it to %s and "
            "rebuilding the partition from changelog topic %r.",
            self.table.name,
            partition,
            path,
            problem,
            moved,
            topic,
        )
        try:
            return super()._open_for_partition(partition)
        except Exception as exc:
            raise LocalStateError(
                f"table {self.table.name!r} partition {partition}: a fresh RocksDB folder at "
                f"{path} cannot be opened either ({exc}); check the disk and permissions of "
                "DRIFTREC_DATA_DIR"
            ) from exc


faust.stores.STORES.aliases[STORE_URL.removesuffix("://")] = f"{__name__}:CheckedRocksDBStore"
