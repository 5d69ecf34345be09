"""Damaged RocksDB table folders (real RocksDB in a temporary folder) are moved aside and reopened
empty, with one log line naming the path; lock errors are left to Faust's retry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import faust
import pytest

from streams.faustcompat.localstate import STORE_URL, CheckedRocksDBStore, damage, is_lock_error


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    app = faust.App("rel-unit", broker="kafka://127.0.0.1:1", store=STORE_URL, datadir=tmp_path)
    table = app.Table("profiles", key_type=bytes, value_type=bytes, partitions=2)
    data = table.data
    assert isinstance(data, CheckedRocksDBStore)
    yield data
    data._dbs.clear()


def _fill(store: Any, partition: int = 0) -> Path:
    db = store._open_for_partition(partition)
    for i in range(50):
        db.put(f"user-{i}".encode(), b"profile" * 10)
    db.close()
    return Path(store.partition_path(partition))


def _manifest(path: Path) -> Path:
    return next(path.glob("MANIFEST-*"))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "no CURRENT": lambda p: (p / "CURRENT").unlink(),
    "garbled MANIFEST": lambda p: _manifest(p).write_bytes(b"\x00garbage" * 8),
    "no MANIFEST": lambda p: _manifest(p).unlink(),
    "CURRENT names a missing MANIFEST": lambda p: (p / "CURRENT").write_text("MANIFEST-999\n"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_partition_is_moved_aside_and_reopened_empty(
    store: Any, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = _fill(store)
    DAMAGE[kind](path)
    with caplog.at_level(logging.ERROR, logger="streams.faustcompat.localstate"):
        db = store._open_for_partition(0)
    assert db.get(b"user-1") is None, "the damaged copy is not read"
    db.put(b"user-1", b"rebuilt")
    assert db.get(b"user-1") == b"rebuilt"
    db.close()
    moved = list((path.parent.parent / "quarantine").glob("profiles-0.db.*"))
    assert len(moved) == 1 and any(moved[0].iterdir()), "the damaged folder is kept for a look"
    line = caplog.text
    assert "LOCAL STATE DAMAGED" in line
    assert str(path) in line and str(moved[0]) in line
    assert "rebuilding the partition from changelog topic 'rel-unit-profiles-changelog'" in line


def test_a_healthy_partition_opens_with_its_data(
    store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = _fill(store)
    db = store._open_for_partition(0)
    assert db.get(b"user-1") == b"profile" * 10
    db.close()
    assert not (path.parent.parent / "quarantine").exists()
    assert "DAMAGED" not in caplog.text


def test_a_locked_partition_is_not_damage(store: Any) -> None:
    path = _fill(store)
    held = store._open_for_partition(0)
    try:
        with pytest.raises(Exception, match="LOCK") as info:
            store._open_for_partition(0)
        assert is_lock_error(info.value)
        assert not (path.parent.parent / "quarantine").exists()
    finally:
        held.close()


def test_damage_needs_data_without_current(tmp_path: Path) -> None:
    assert damage(tmp_path / "absent") is None
    (tmp_path / "empty").mkdir()
    assert damage(tmp_path / "empty") is None
    (tmp_path / "empty" / "000004.log").write_bytes(b"")
    assert damage(tmp_path / "empty") == "the CURRENT file is missing"
