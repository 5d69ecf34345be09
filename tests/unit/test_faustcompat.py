"""The Faust guards' door: the version check, and canaries that fail when Faust changes under them.

Each canary pins the upstream behaviour or internal a guard in ``streams/faustcompat`` relies on
(see its README.md). A failing canary means Faust fixed a bug or moved an internal: re-check that
guard, drop it when it is no longer needed, and move ``TESTED_FAUST`` on. The acknowledgement bug
has its canary beside its guard's tests (``test_acks.py``).
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from click.testing import CliRunner
from faust.streams import Stream, current_event
from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from streams.cli import cli
from streams.faustcompat import version
from streams.faustcompat.eventctx import as_current
from streams.faustcompat.offsets import committed_offset
from streams.faustcompat.version import TESTED_FAUST, FaustVersionError, check_faust_version

ROOT = Path(__file__).resolve().parents[2]
OTHER = "0.16.0"


# --- the version check ------------------------------------------------------------------------


def test_the_installed_faust_is_the_tested_one() -> None:
    assert version.installed_faust() == TESTED_FAUST
    check_faust_version()


@pytest.mark.parametrize("found", [OTHER, "0.15.2", None])
def test_another_faust_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch, found: Any) -> None:
    monkeypatch.setattr(version, "installed_faust", lambda: found)
    with pytest.raises(FaustVersionError) as err:
        check_faust_version()
    message = str(err.value)
    assert "\n" not in message
    assert f"faust-streaming {found or '(not installed)'} found" in message
    assert f"faust-streaming=={TESTED_FAUST}" in message


def test_driftrec_worker_refuses_another_faust_before_touching_kafka(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(version, "installed_faust", lambda: OTHER)
    # An unreachable broker: had the command gone on to create topics, it would say so instead.
    result = CliRunner().invoke(cli, ["worker", "--bootstrap-servers", "127.0.0.1:1"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: faust-streaming {OTHER} found, but the worker's Faust guards (streams/faustcompat)"
        f" are tested with {TESTED_FAUST} only: install faust-streaming=={TESTED_FAUST}"
        " (requirements.lock)"
    ]


def test_the_faust_entry_module_refuses_another_faust_in_one_line() -> None:
    """``faust -A streams.worker.app worker`` imports the module first: it exits with one line."""
    code = textwrap.dedent(
        f"""
        import importlib.metadata as metadata
        real = metadata.version
        metadata.version = lambda name: {OTHER!r} if name == "faust-streaming" else real(name)
        import streams.worker.app
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"driftrec worker: faust-streaming {OTHER} found, but the worker's Faust guards"
        f" (streams/faustcompat) are tested with {TESTED_FAUST} only: install"
        f" faust-streaming=={TESTED_FAUST} (requirements.lock)"
    ]


# --- canaries: what each guard relies on ----------------------------------------------------


def test_faust_keeps_committed_offsets_privately() -> None:
    """offsets.committed_offset reads ``Consumer._committed_offset``: Faust has no public reader."""
    assert "self._committed_offset = " in inspect.getsource(Consumer.__init__)
    assert not hasattr(Consumer, "committed_offset")
    fake = SimpleNamespace(_committed_offset={"tp": 41})
    assert committed_offset(fake, "tp") == 41
    assert committed_offset(fake, "other") is None


def test_faust_reaches_aiokafka_only_through_its_consumer_thread() -> None:
    """offsets.start_offset asks aiokafka for the committed offset through Faust's private thread
    (Faust's own bookkeeping is filled in only after its seek)."""
    assert "self._thread = " in inspect.getsource(ThreadDelegateConsumer.__init__)
    assert callable(AIOKafkaConsumerThread._ensure_consumer)
    assert callable(AIOKafkaConsumerThread.call_thread)


class _Event:  # Faust holds the current event by weak reference
    def __init__(self, message: Any) -> None:
        self.message = message


def _table(tmp_path: Path, store: str = "memory://") -> Any:
    app = faust.App("canary", broker="kafka://127.0.0.1:1", store=store, datadir=tmp_path)
    return app.Table("profiles", key_type=bytes, value_type=bytes, partitions=4)


def test_a_table_write_goes_to_the_partition_of_faust_s_current_event(tmp_path: Path) -> None:
    """eventctx.as_current exists because Faust picks the changelog partition of a table write
    from its *current event*, which after ``take_events`` is one event for the whole batch."""
    table = _table(tmp_path)
    table._verified_source_topics_for_partitions.add("events")  # no consumer to ask
    with pytest.raises(TypeError, match="outside of stream iteration"):
        table.partition_for_key(b"user-1")
    event: Any = _Event(SimpleNamespace(topic="events", partition=3))
    with as_current(event):
        assert current_event() is event
        assert table.partition_for_key(b"user-1") == 3
    assert current_event() is None


def test_take_events_acks_the_batch_in_a_finally() -> None:
    """Faust acknowledges every event of a ``take_events`` batch when the consumer's block ends,
    also when it raised (the ack loop is in a ``finally`` around the ``yield``): not guarded here,
    the agents catch a record's own faults instead (dead letters, README.md). Fails when Faust
    changes this, so that the reasoning is looked at again."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Stream.take_events)))
    acked_in_finally = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Try)
        and any(isinstance(n, ast.Yield) for b in node.body for n in ast.walk(b))
        and any(
            isinstance(n, ast.Attribute) and n.attr == "ack"
            for b in node.finalbody
            for n in ast.walk(b)
        )
    ]
    assert len(acked_in_finally) == 1


def test_faust_s_own_rocksdb_store_crashes_on_a_damaged_partition(tmp_path: Path) -> None:
    """localstate.CheckedRocksDBStore exists because Faust's store does not recover a partition
    folder RocksDB cannot open: it raises at assignment and the worker cannot start."""
    data = _table(tmp_path, store="rocksdb://").data
    db = data._open_for_partition(0)
    db.put(b"user-1", b"profile")
    db.close()
    (Path(data.partition_path(0)) / "CURRENT").unlink()
    data._dbs.clear()
    with pytest.raises(Exception, match=r"CURRENT|No such file|Corruption|Invalid argument"):
        data._open_for_partition(0)
