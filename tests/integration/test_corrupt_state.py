"""A worker whose RocksDB folders were damaged while it was down detects it on start, says so in
one log line per folder, and rebuilds them from the changelog: profiles come back unchanged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from streams.faustcompat.localstate import QUARANTINE
from tests.integration.pipeline_support import Pipeline, Worker, wait_for
from tests.integration.reliability_support import make_events, make_items

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS, PER_USER = 10, 12


def _profiles(worker: Worker, users: list[str]) -> dict[str, Any] | None:
    try:
        got = {u: worker.profile(u) for u in users}
    except LookupError:
        return None
    return got if all(p is not None for p in got.values()) else None


def _damage(tables: Path) -> dict[Path, str]:
    """Three kinds of damage on three folders (two profile partitions and the catalog)."""
    parts = sorted(p for p in tables.glob("profiles-*.db") if any(p.glob("*.log")))
    assert len(parts) >= 2, f"expected profile partitions with data in {tables}"
    catalog = tables / "catalog-0.db"
    (parts[0] / "CURRENT").unlink()
    next(parts[1].glob("MANIFEST-*")).write_bytes(b"\x00not a manifest" * 4)
    next(catalog.glob("MANIFEST-*")).unlink()
    return {
        parts[0]: "the CURRENT file is missing",
        parts[1]: "RocksDB cannot open it",
        catalog: "RocksDB cannot open it",
    }


def test_damaged_rocksdb_folders_are_rebuilt_from_the_changelog(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder)
    items = make_items(20)
    events = make_events(USERS, PER_USER, items, seed=3)
    users = sorted({e.user_id for e in events})
    worker = pipe.started_worker(items)
    try:
        pipe.send_events(events)

        def complete() -> bool:
            got = _profiles(worker, users)
            return got is not None and all(p["events_applied"] == PER_USER for p in got.values())

        wait_for(complete, 180, "all events applied", worker)
        before = _profiles(worker, users)
    finally:
        worker.stop()
    tables = next(worker.data_dir.rglob("tables"))
    damaged = _damage(tables)

    worker.start()
    try:
        wait_for(lambda: _profiles(worker, users) == before, 180, "profiles rebuilt", worker)
        # The rebuilt catalog serves retrieval and the stream goes on without re-applying.
        worker.wait_catalog(len(items), 60)
        more = make_events(USERS, 2, items, seed=4, prefix="more-")
        more = [replace(e, ts=e.ts + 10_000) for e in more]
        pipe.send_events(more)

        def moved_on() -> bool:
            got = _profiles(worker, users)
            return got is not None and all(
                p["events_applied"] == PER_USER + 2 for p in got.values()
            )

        wait_for(moved_on, 120, "new events applied once", worker)
        log = worker.log()
    finally:
        worker.stop()
    lines = [line for line in log.splitlines() if "LOCAL STATE DAMAGED" in line]
    assert len(lines) == len(damaged), "\n".join(lines)
    for path, problem in damaged.items():
        line = next(x for x in lines if f" at {path}: " in x)
        assert problem in line
        assert "rebuilding the partition from changelog topic" in line
    quarantined = sorted(p.name.split(".db.")[0] for p in (tables.parent / QUARANTINE).iterdir())
    assert quarantined == sorted(p.name.removesuffix(".db") for p in damaged)
    print(f"\ncorrupt state: {len(damaged)} damaged folders rebuilt, {len(users)} profiles equal")
