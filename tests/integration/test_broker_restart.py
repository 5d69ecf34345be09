"""The broker stops and starts again mid-stream: the same worker process resumes by itself and
ends with the profiles of an uninterrupted run. Uses a broker of its own, not the session's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.localkafka import LocalBroker, free_port
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.reliability_support import (
    Pipeline,
    Worker,
    assert_same_profile,
    event_bytes,
    item_bytes,
    make_events,
    make_items,
    placed_events,
    reference_run,
    send,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS, PER_USER, DOWN_S = 10, 24, 8.0


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    broker = LocalBroker(
        Settings().kafka_dir,
        port=free_port(),
        controller_port=free_port(),
        runtime_dir=tmp_path / "broker",
    )
    broker.start(timeout_s=120)
    try:
        yield broker
    finally:
        broker.stop()


def _applied(worker: Worker, users: list[str], count: int) -> bool:
    try:
        return all(
            (p := worker.profile(u)) is not None and p["events_applied"] == count for u in users
        )
    except LookupError:
        return False


def test_the_worker_resumes_by_itself_after_a_broker_restart(
    own_broker: LocalBroker, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(own_broker.bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(16)
    events = make_events(USERS, PER_USER, items, seed=17)
    users = sorted({e.user_id for e in events})
    half = len(events) // 2
    ensure_topics(s)
    send(pipe.kafka(), s.items_topic, map(item_bytes, items))
    worker = pipe.worker()
    worker.start()
    try:
        wait_for(lambda: worker.health().get("catalog_items") == len(items), 180, "catalog", worker)
        send(pipe.kafka(), s.events_topic, map(event_bytes, events[:half]))
        wait_for(lambda: worker.metric("driftrec_events_applied_total") > 0, 120, "flow", worker)
        pid = worker.proc.pid if worker.proc else None

        own_broker.stop()  # mid-stream: the first half may not all be applied yet
        time.sleep(DOWN_S)
        assert worker.alive(), f"the worker died with the broker:\n{worker.log_tail()}"
        own_broker.start(timeout_s=120)

        send(pipe.kafka(), s.events_topic, map(event_bytes, events[half:]))
        wait_for(lambda: _applied(worker, users, PER_USER), 300, "all events after restart", worker)
        assert worker.alive() and worker.proc is not None and worker.proc.pid == pid
        assert worker.starts == 1, "nobody restarted the worker"

        placed = placed_events(pipe.kafka(), s.events_topic, {e.event_id for e in events})
        ref = reference_run(s, items, placed)
        for user in users:
            got = worker.profile(user)
            assert got is not None
            assert_same_profile(got, ref.profiles[user])
    finally:
        worker.stop()
    print(f"\nbroker restart: down {DOWN_S:.0f}s mid-stream, worker resumed, {len(events)} events")
