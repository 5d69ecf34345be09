"""A processing error on one valid event never loses another (real broker, real worker).

The worker's model (``tests/integration/faulty_model.py``, selected by DRIFTREC_MODEL_LOADER) raises
on events that click a ``poison-*`` item and fails transiently, three times, on a ``flaky-*`` item.
Valid events on those items are mixed into the stream of twelve users: every other event is
applied exactly once (the profiles equal a clean run of them), the poison events are in the DLQ
with reason processing_error, the flaky ones are applied and never dead-lettered, and the same
worker process goes on consuming afterwards."""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.messages.records import BehaviourEvent, ItemRecord
from tests.integration.pipeline_support import FAULTY_MODEL_ENV, Pipeline, read_all, wait_for
from tests.integration.reliability_support import (
    T0,
    assert_worker_profiles,
    make_events,
    make_items,
    uninterrupted_run,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS, PER_USER, POISON, FLAKY = 12, 10, 8, 3
FAULTY = {
    **FAULTY_MODEL_ENV,
    "DRIFTREC_RETRY_INITIAL_S": "0.1",
    "DRIFTREC_RETRY_MAX_S": "0.5",
}


def marked_items() -> list[ItemRecord]:
    titles = [i.title for i in make_items(3, seed=5)]
    return [
        ItemRecord("poison-0", titles[0]),
        ItemRecord("poison-1", titles[1]),
        ItemRecord("flaky-0", titles[2]),
    ]


def test_a_failing_event_is_dead_lettered_and_every_other_one_applied_once(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder, extra_env=FAULTY)
    s = pipe.settings
    items = make_items(16) + marked_items()
    good = make_events(USERS, PER_USER, make_items(16), seed=23)
    rng = random.Random(4)
    poison = [
        BehaviourEvent(
            f"p{k}", f"u{rng.randrange(USERS)}", T0 + 0.5 + k, "click", f"poison-{k % 2}"
        )
        for k in range(POISON)
    ]
    flaky = [
        BehaviourEvent(f"f{k}", f"u{k}", T0 + 0.7 + k, "view", "flaky-0") for k in range(FLAKY)
    ]
    stream = list(good)
    for ev in poison + flaky:  # anywhere in the stream, between a user's other events
        stream.insert(rng.randrange(len(stream) + 1), ev)
    late = [
        BehaviourEvent(f"late{k}", f"u{k}", T0 + 10_000 + k, "click", "i1") for k in range(USERS)
    ]
    users = sorted({e.user_id for e in good})

    worker = pipe.started_worker(items)
    try:
        pipe.send_events(stream)
        want = Counter(e.user_id for e in good + flaky)
        wait_for(
            lambda: (
                all(worker.events_applied(u) == want[u] for u in users)
                and worker.metric("driftrec_dead_letters_total") >= POISON
            ),
            300,
            "every valid event applied and every poison event dead-lettered",
            worker,
        )
        # Still consuming: events sent afterwards are applied by the same process.
        pipe.send_events(late)
        wait_for(
            lambda: all(worker.events_applied(u) == want[u] + 1 for u in users),
            120,
            "events sent after the failures",
            worker,
        )
        assert worker.alive() and worker.starts == 1
        ref = uninterrupted_run(pipe, items, good + flaky + late)
        assert_worker_profiles(worker, ref)
        _, text = worker.get("/metrics")
        retries = sum(
            float(line.rsplit(" ", 1)[1])
            for line in str(text).splitlines()
            if line.startswith('driftrec_transient_retries_total{stage="process"}')
        )
        dlq = [json.loads(m.value) for m in read_all(pipe.kafka(), s.dlq_topic(s.events_topic))]
        health_status, _ = worker.get("/health")
    finally:
        worker.stop()

    dead_ids = sorted(json.loads(base64.b64decode(d["value_b64"]))["event_id"] for d in dlq)
    assert dead_ids == sorted(e.event_id for e in poison), "exactly the poison events, each once"
    assert {d["reason"] for d in dlq} == {"processing_error"}
    assert all(d["error"].startswith("ValueError: injected failure on poison-") for d in dlq)
    assert retries >= FLAKY, "the transient failures were retried"
    assert health_status == 200
    print(f"\nprocessing errors: {len(dlq)} dead-lettered, {retries:.0f} transient retries")


def _health_after_a_bad_event(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path, kind: str, timeout_s: float
) -> tuple[int, dict[str, Any], str]:
    """One partition, a worker that applied its first events, then an event on item ``kind``-0
    (what the faulty model does with it: see faulty_model.py) and more events behind it.

    Waits until /health answers 503 "stalled"; checks that the process is still the first one and
    that nothing behind the bad event was applied. Returns /health's status and body and the
    worker's log."""
    env = {**FAULTY, "DRIFTREC_STALL_AFTER_S": "6", "DRIFTREC_LAG_INTERVAL_S": "1"}
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder, partitions=1, extra_env=env)
    items = make_items(8)
    bad_item = ItemRecord(f"{kind}-0", make_items(1, seed=9)[0].title)
    first = make_events(4, 3, items, seed=3)
    users = sorted({e.user_id for e in first})
    bad = BehaviourEvent(f"{kind}-event", "u0", T0 + 500, "click", bad_item.item_id)
    after = make_events(4, 2, items, seed=4, prefix="after")
    worker = pipe.started_worker([*items, bad_item])
    try:
        pipe.send_events(first)
        wait_for(lambda: worker.all_applied(users, 3), 120, "first events", worker)
        assert worker.get("/health")[0] == 200
        pipe.send_events([bad, *after])

        seen: list[tuple[int, dict[str, Any]]] = []

        def stalled() -> bool:
            seen.append(worker.get("/health"))
            return seen[-1][0] == 503 and seen[-1][1].get("status") == "stalled"

        wait_for(stalled, timeout_s, f"/health reporting the {kind} event", worker)
        # The answer that said so: asking again can race Faust's supervisor, which restarts a
        # crashed agent at once (then /health says "ok" until DRIFTREC_STALL_AFTER_S passes).
        status, body = seen[-1]
        assert worker.alive() and worker.starts == 1
        assert not any(worker.events_applied(u) > 3 for u in users), "nothing passed it"
    finally:
        worker.stop()
    return status, body, worker.log()


def test_health_reports_a_worker_that_does_not_consume(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    """An event whose processing fails transiently forever (``stall-*``) stops the partition: the
    worker stays up and retries, and /health answers 503 with the reason instead of "ok"."""
    status, body, _ = _health_after_a_bad_event(
        kafka_bootstrap, tiny_encoder, tmp_path, "stall", 90
    )
    assert status == 503
    assert "events waiting" in body["reason"] and "no batch finished" in body["reason"]
    assert body["model_version"] is not None  # the model is loaded: it is the flow that stopped


def test_health_reports_a_worker_whose_events_agent_died(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    """An error that escapes every handler (``crash-*``: a BaseException from the model) ends the
    events agent's task. Faust's supervisor starts the agent again in the same process, which
    reads the batch again and dies again: the process, its web server and its catalog stay up,
    nothing is consumed any more, and /health answers 503 (the agent stopped, or, restarted over
    and over, no batch finished since) instead of 200 "ok"."""
    status, body, log = _health_after_a_bad_event(
        kafka_bootstrap, tiny_encoder, tmp_path, "crash", 60
    )
    assert status == 503
    reason = body["reason"]
    assert reason == "the events agent stopped: AgentKilled: injected agent death on crash-0" or (
        "events waiting" in reason and "no batch finished" in reason
    ), reason
    assert "AgentKilled: injected agent death on crash-0" in log
