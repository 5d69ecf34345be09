"""The registry's pure half: folding records, transitions, and the immutable folder store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from encoders.checkpoint import save_checkpoint
from streams.registry.state import (
    CHAMPION_KEY,
    ModelEntry,
    Record,
    RegistryError,
    RegistryState,
)
from streams.registry.store import LINEAGE_FILE, ModelStore


def entry(version: str, created: str = "2026-01-01T00:00:00+00:00", **kw: object) -> ModelEntry:
    args: dict[str, object] = {
        "version": version,
        "status": "challenger",
        "created": created,
        "path": f"/models/{version}",
    }
    args.update(kw)
    return ModelEntry(**args)  # type: ignore[arg-type]


def apply(state: RegistryState, records: list[Record]) -> RegistryState:
    """Round-trip records through JSON, as the topic does, and fold them."""
    for key, value in records:
        state.apply(key, None if value is None else json.loads(json.dumps(value)))
    return state


def test_register_promote_rollback_cycle() -> None:
    s = RegistryState()
    apply(s, s.register(entry("m-a", "2026-01-01")))
    assert s.champion is None and s.challenger == "m-a"
    apply(s, s.promote("m-a", reason="first", now=1.0))
    assert s.champion == "m-a" and s.challenger is None
    apply(s, s.register(entry("m-b", "2026-01-02", parent="m-a")))
    assert s.challenger == "m-b"
    apply(s, s.promote("m-b", reason="better holdout", now=2.0))
    assert s.champion == "m-b"
    assert s.status_of("m-a") == "retired"
    assert s.models["m-a"].reason == "replaced by m-b"
    apply(s, s.rollback(reason="live hit rate fell", now=3.0))
    assert s.champion == "m-a"
    assert s.status_of("m-b") == "retired"
    assert s.models["m-b"].reason.startswith("rolled back")
    assert [h["action"] for h in s.pointer.history] == ["promote", "promote", "rollback"]
    with pytest.raises(RegistryError, match="nothing to roll back"):
        s.rollback(reason="again", now=4.0)


def test_a_new_challenger_retires_the_previous_one() -> None:
    s = RegistryState()
    apply(s, s.register(entry("m-a", "2026-01-01")))
    apply(s, s.register(entry("m-b", "2026-01-02")))
    assert s.challenger == "m-b"
    assert s.models["m-a"].status == "retired"
    assert "m-b" in s.models["m-a"].reason


def test_promote_unknown_or_current_champion_is_refused() -> None:
    s = RegistryState()
    with pytest.raises(RegistryError, match="no model 'm-x'"):
        s.promote("m-x", reason="", now=0.0)
    apply(s, s.register(entry("m-a")))
    apply(s, s.promote("m-a", reason="", now=0.0))
    with pytest.raises(RegistryError, match="already the champion"):
        s.promote("m-a", reason="", now=1.0)
    with pytest.raises(RegistryError, match="is the champion"):
        s.set_status("m-a", "retired", reason="", now=1.0)


def test_pointer_is_the_single_source_of_truth() -> None:
    """A reader that sees the pointer but not (yet) the per-model records still agrees."""
    s = RegistryState()
    apply(s, s.register(entry("m-a", "2026-01-01")))
    apply(s, s.promote("m-a", reason="", now=0.0))
    apply(s, s.register(entry("m-b", "2026-01-02")))
    records = s.promote("m-b", reason="", now=1.0)
    assert records[0][0] == CHAMPION_KEY
    partial = RegistryState.from_records([(k, v) for k, v in _all(s)])
    partial.apply(*records[0])  # only the pointer arrived
    assert partial.champion == "m-b"
    assert partial.status_of("m-a") == "retired"  # its record still says champion


def _all(s: RegistryState) -> list[Record]:
    out: list[Record] = [(v, m.to_json()) for v, m in s.models.items()]
    out.append((CHAMPION_KEY, s.pointer.to_json()))
    return out


def test_replaying_the_log_gives_the_same_state_and_tombstones_delete() -> None:
    s = RegistryState()
    log: list[Record] = []
    for make in (
        lambda: s.register(entry("m-a", "2026-01-01")),
        lambda: s.promote("m-a", reason="", now=0.0),
        lambda: s.register(entry("m-b", "2026-01-02")),
    ):
        records = make()
        log.extend(records)
        apply(s, records)
    replayed = RegistryState.from_records(log)
    assert replayed.rows() == s.rows()
    assert [r["status"] for r in s.rows()] == ["champion", "challenger"]
    s.apply("m-b", None)  # a tombstone deletes the model record
    assert list(s.models) == ["m-a"]


def test_bad_records_are_errors() -> None:
    s = RegistryState()
    with pytest.raises(RegistryError, match="unknown status"):
        s.apply("m-a", {**entry("m-a").to_json(), "status": "king"})
    with pytest.raises(RegistryError, match="holds model"):
        s.apply("m-a", entry("m-b").to_json())
    with pytest.raises(RegistryError, match="not a champion record"):
        s.apply(CHAMPION_KEY, {"champion": "m-a"})


def _checkpoint(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    save_checkpoint(folder, kind="driftrec", config={"dim": 4}, state={"w": torch.randn(3, 4)})
    return folder


def test_store_add_is_atomic_read_only_and_idempotent(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    src = _checkpoint(tmp_path / "ckpt", 0)
    version, path = store.add(src, {"parent": None, "metrics": {"holdout": {"NDCG@10": 0.3}}})
    assert path == store.path(version) and store.has(version)
    assert store.versions() == [version]
    assert store.lineage(version)["metrics"]["holdout"]["NDCG@10"] == 0.3
    for f in path.iterdir():
        assert not os.access(f, os.W_OK) or os.geteuid() == 0
        assert f.stat().st_mode & 0o222 == 0
    again, _ = store.add(src, {"parent": "other"})  # same content: no-op
    assert again == version
    assert store.lineage(version)["parent"] is None
    assert not [p for p in store.root.iterdir() if p.name.startswith(".tmp")]
    assert {p.name for p in path.iterdir()} >= {"model.safetensors", "checkpoint.json"}
    assert (path / LINEAGE_FILE).is_file()


def test_store_refuses_a_tampered_checkpoint_and_bad_versions(tmp_path: Path) -> None:
    src = _checkpoint(tmp_path / "ckpt", 1)
    meta = json.loads((src / "checkpoint.json").read_text())
    meta["config"]["dim"] = 5
    (src / "checkpoint.json").write_text(json.dumps(meta))
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ValueError, match="do not match"):
        store.add(src, {})
    with pytest.raises(RegistryError):
        store.path("../etc")
    assert store.versions() == []


def test_register_promoted_is_one_batch_that_never_shows_a_challenger() -> None:
    s = RegistryState()
    apply(s, s.register(entry("m-a", "2026-01-01")))
    apply(s, s.promote("m-a", reason="", now=0.0))
    apply(s, s.register(entry("m-b", "2026-01-02")))
    records = s.register_promoted(entry("m-c", "2026-01-03"), reason="better", now=1.0)
    seen = RegistryState.from_records(s.records())
    for key, value in records:
        seen.apply(key, value)
        assert seen.challenger != "m-c"  # never served as a challenger on the way
    assert seen.champion == "m-c" and seen.status_of("m-a") == "retired"
    assert seen.models["m-c"].reason == "better"
    assert seen.challenger == "m-b"  # an unrelated challenger stays
