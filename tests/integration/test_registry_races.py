"""Two registry writers at once on the real broker: no promotion and no history entry is lost.

Every registry write reads the state, changes it and writes records back. The writers here are
made to interleave at the worst point: each reads the state, then waits at a barrier until the
other has read it too, and only then writes. Written naively, the second write is computed from
a state that lacks the first one and replaces its champion pointer (history and stack included).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import streams.registry.transport as transport
from streams.registry.state import ModelEntry, RegistryState
from streams.registry.transport import Registry, read_state
from streams.settings import Settings
from streams.trainer.candidate import _register

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(
    kafka_bootstrap: str, unique_topic: str, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Registry:
    monkeypatch.setenv("DRIFTREC_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("DRIFTREC_REGISTRY_TOPIC", unique_topic)
    return Registry(Settings())


def _entry(version: str, parent: str | None = None) -> ModelEntry:
    return ModelEntry(
        version=version,
        status="challenger",
        created=f"2026-12-03T10:00:{version[-1]}0+00:00",
        path=f"/nowhere/{version}",
        parent=parent,
        reason="test",
        updated=time.time(),
    )


def _meet_after_first_read(monkeypatch: pytest.MonkeyPatch, parties: int = 2) -> None:
    """Each writer thread's first registry read waits until every writer has read."""
    barrier = threading.Barrier(parties, timeout=30)
    waited: set[int] = set()
    real = transport.read_state

    def read(settings: Settings, *args: Any, **kwargs: Any) -> tuple[RegistryState, int]:
        out = real(settings, *args, **kwargs)
        me = threading.get_ident()
        if threading.current_thread().name.startswith("writer") and me not in waited:
            waited.add(me)
            barrier.wait()
        return out

    monkeypatch.setattr(transport, "read_state", read)


def _race(*writers: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(len(writers), thread_name_prefix="writer") as pool:
        futures = [pool.submit(w) for w in writers]
        return [f.result(timeout=120) for f in futures]


def _promotions(state: RegistryState) -> list[str]:
    return [h["version"] for h in state.pointer.history if h["action"] == "promote"]


def test_two_concurrent_promotions_both_land(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in ("m-a", "m-b", "m-c"):
        registry.register(_entry(version))
    registry.promote("m-a", "first")
    _meet_after_first_read(monkeypatch)

    _race(lambda: registry.promote("m-b", "by alice"), lambda: registry.promote("m-c", "by bob"))

    state, _ = read_state(registry.settings)
    promoted = _promotions(state)
    assert promoted[0] == "m-a" and sorted(promoted[1:]) == ["m-b", "m-c"], promoted
    first, last = promoted[1], promoted[2]
    assert state.champion == last
    assert state.pointer.stack == ("m-a", first, last)  # both can be rolled back to, in order
    assert state.status_of(first) == "retired"
    assert state.models[first].reason == f"replaced by {last}"
    reasons = {h["version"]: h["reason"] for h in state.pointer.history}
    assert reasons["m-b"] == "by alice" and reasons["m-c"] == "by bob"


def test_a_promotion_racing_a_trainer_write_loses_neither(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in ("m-a", "m-b"):
        registry.register(_entry(version))
    registry.promote("m-a", "first")
    lineage = {
        "created": "2026-12-03T10:05:00+00:00",
        "data_window": {"events": 10},
        "metrics": {"holdout": {"NDCG@10": 0.5}},
        "parent": "m-a",  # the champion the trainer judged its candidate against
    }
    _meet_after_first_read(monkeypatch)

    _, verdict = _race(
        lambda: registry.promote("m-b", "by hand"),
        lambda: _register(registry, "m-new", Path("/nowhere"), lineage, "beat m-a", True),
    )

    state, _ = read_state(registry.settings)
    promoted = _promotions(state)
    assert "m-new" in state.models  # the trainer's candidate is registered either way
    assert "m-b" in promoted  # the manual promotion is in the history either way
    if verdict is not None and verdict[0]:  # the trainer committed first: both promotions stand
        assert promoted == ["m-a", "m-new", "m-b"]
        assert state.champion == "m-b" and state.status_of("m-new") == "retired"
    else:  # the manual promotion came first: the candidate never met m-b, so it is not promoted
        assert promoted == ["m-a", "m-b"]
        assert state.champion == "m-b" and state.status_of("m-new") == "challenger"
        assert "champion changed during the round" in state.models["m-new"].reason
