"""kill -9 mid-stream, three times: the profiles equal those of an uninterrupted run."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from streams.topics import ensure_topics
from tests.integration.reliability_support import (
    Flow,
    Pipeline,
    Worker,
    assert_same_profile,
    changelog_profiles,
    event_bytes,
    item_bytes,
    make_events,
    make_items,
    placed_events,
    read_all,
    reference_run,
    send,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS, PER_USER, ITEMS, KILLS = 16, 40, 30, 3


def _all_applied(worker: Worker, users: list[str], per_user: int) -> bool:
    try:
        return all(
            (p := worker.profile(u)) is not None and p["events_applied"] >= per_user for u in users
        )
    except LookupError:
        return False


def test_kill9_mid_stream_three_times_gives_the_uninterrupted_profiles(
    kafka_bootstrap: str,
    tiny_encoder: Path,
    tmp_path: Path,
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(ITEMS)
    events = make_events(USERS, PER_USER, items, seed=7)
    ensure_topics(s)
    send(pipe.kafka(), s.items_topic, map(item_bytes, items))
    worker = pipe.worker()
    worker.start()
    wait_for(lambda: worker.health().get("catalog_items") == ITEMS, 180, "catalog", worker)

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
        wait_for(lambda: _all_applied(worker, users, PER_USER), 240, "all events", worker)

        placed = placed_events(pipe.kafka(), s.events_topic, {e.event_id for e in events})
        assert len(placed) == len(events)
        ref = reference_run(s, items, placed)
        assert sorted(ref.profiles) == users
        for user in users:  # the worker's view (its local RocksDB state)
            got = worker.profile(user)
            assert got is not None
            assert_same_profile(got, ref.profiles[user])
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
