"""kill -9 mid-stream, three times: the profiles equal those of an uninterrupted run."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.pipeline_support import Pipeline, event_bytes, read_all, wait_for
from tests.integration.reliability_support import (
    Flow,
    assert_same_profile,
    assert_worker_profiles,
    changelog_profiles,
    make_events,
    make_items,
    uninterrupted_run,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS, PER_USER, ITEMS, KILLS = 16, 40, 30, 3


def test_kill9_mid_stream_three_times_gives_the_uninterrupted_profiles(
    kafka_bootstrap: str,
    tiny_encoder: Path,
    tmp_path: Path,
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(ITEMS)
    events = make_events(USERS, PER_USER, items, seed=7)
    pipe.create(items)
    worker = pipe.worker()
    worker.start()
    worker.wait_catalog(ITEMS)

    # ~15 events/s: the flow lasts about 40 s, so the kills land while events arrive.
    flow = Flow(pipe.kafka(), s.events_topic, [event_bytes(e) for e in events], rate=15.0)
    flow.start()
    rng = random.Random(2024)
    try:
        for _ in range(KILLS):
            # Kill while the worker is busy: it has applied events since it (re)started.
            wait_for(
                lambda: worker.metric("driftrec_events_applied_total") > 0,
                180,
                "events applied",
                worker,
            )
            time.sleep(rng.uniform(0.0, 1.5))  # a random moment in the middle of it
            worker.kill()
            worker.start()
        assert flow.finish() == len(events)
        users = sorted({e.user_id for e in events})
        wait_for(
            lambda: worker.all_applied(users, PER_USER, at_least=True), 240, "all events", worker
        )

        ref = uninterrupted_run(pipe, items, events)
        assert_worker_profiles(worker, ref)
    finally:
        worker.stop()
    # What another worker would recover: the changelog holds the same profiles.
    changelog = changelog_profiles(pipe)
    for user in users:
        got_profile = changelog[user]
        assert got_profile is not None
        assert_same_profile(got_profile, ref.profiles[user])

    # Lists: at least once, each naming its triggering event; none lost across the kills.
    lists = [json.loads(m.value) for m in read_all(pipe.kafka(), s.recommendations_topic)]
    by_event = {e.event_id: e for e in events}
    for rec in lists:
        assert rec["event_id"] in by_event
        assert by_event[rec["event_id"]].user_id == rec["user_id"]
    published = Counter(rec["event_id"] for rec in lists)
    assert set(published) == ref.list_event_ids
    repeats = sum(n - 1 for n in published.values())
    print(
        f"\ncrash: {KILLS} kill -9 survived, {len(events)} events, {len(lists)} lists "
        f"({repeats} repeated), {worker.starts} starts"
    )
