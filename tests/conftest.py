"""Shared fixtures. The Kafka broker is real: a running one (DRIFTREC_TEST_BOOTSTRAP) or a fresh
local broker started for the test session on free ports in a temporary folder."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.localkafka.launcher import LocalBroker, free_port, metadata_ok
from streams.settings import Settings


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a real Kafka broker for the whole test session."""
    external = os.environ.get("DRIFTREC_TEST_BOOTSTRAP")
    if external:
        if not metadata_ok(external):
            pytest.fail(f"DRIFTREC_TEST_BOOTSTRAP={external} does not answer metadata requests")
        yield external
        return
    settings = Settings()
    runtime = tmp_path_factory.mktemp("kafka")
    broker = LocalBroker(
        settings.kafka_dir, port=free_port(), controller_port=free_port(), runtime_dir=runtime
    )
    broker.start(timeout_s=settings.kafka_start_timeout_s)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (tests share one broker)."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    return f"t-{name[:40]}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _heap_unfrozen_after() -> Iterator[None]:
    """A Runtime started here freezes the heap (DRIFTREC_GC_FREEZE): not past its test."""
    yield
    gc.unfreeze()


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DRIFTREC_HOME pointed at a temporary folder (jars stay in the real cache via kafka_dir)."""
    monkeypatch.setenv("DRIFTREC_HOME", str(tmp_path))
    return tmp_path
