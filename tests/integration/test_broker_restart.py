"""The broker stops and starts again mid-stream: the same worker process resumes by itself and
ends with the profiles of an uninterrupted run. Uses a broker of its own, not the session's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.localkafka.launcher import LocalBroker
from tests.integration.pipeline_support import Pipeline, event_bytes, own_broker, send, wait_for
from tests.integration.reliability_support import (
    assert_worker_profiles,
    make_events,
    make_items,
    uninterrupted_run,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS, PER_USER, DOWN_S = 10, 24, 8.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    with own_broker(tmp_path / "broker") as running:
        yield running


def test_the_worker_resumes_by_itself_after_a_broker_restart(
    broker: LocalBroker, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(broker.bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(16)
    events = make_events(USERS, PER_USER, items, seed=17)
    users = sorted({e.user_id for e in events})
    half = len(events) // 2
    pipe.create(items)
    worker = pipe.worker()
    worker.start()
    try:
        worker.wait_catalog(len(items))
        send(pipe.kafka(), s.events_topic, map(event_bytes, events[:half]))
        wait_for(lambda: worker.metric("driftrec_events_applied_total") > 0, 120, "flow", worker)
        pid = worker.proc.pid if worker.proc else None

        broker.stop()  # mid-stream: the first half may not all be applied yet
        time.sleep(DOWN_S)
        assert worker.alive(), f"the worker died with the broker:\n{worker.log_tail()}"
        broker.start(timeout_s=120)

        send(pipe.kafka(), s.events_topic, map(event_bytes, events[half:]))
        wait_for(
            lambda: worker.all_applied(users, PER_USER), 300, "all events after restart", worker
        )
        assert worker.alive() and worker.proc is not None and worker.proc.pid == pid
        assert worker.starts == 1, "nobody restarted the worker"

        assert_worker_profiles(worker, uninterrupted_run(pipe, items, events))
    finally:
        worker.stop()
    print(f"\nbroker restart: down {DOWN_S:.0f}s mid-stream, worker resumed, {len(events)} events")
