"""A second worker joins mid-stream and later leaves: no state lost, nothing applied twice, and
every list of an uninterrupted run is published (each user keeps receiving lists)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.pipeline_support import Pipeline, Worker, event_bytes, read_all, wait_for
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

USERS, PER_USER = 16, 40


def _assigned(worker: Worker) -> set[int]:
    return set(worker.health().get("assigned_partitions") or ())


def test_a_worker_joins_and_leaves_mid_stream(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    # A list at least every 5 events of a user, so every user has lists in every phase.
    pipe = Pipeline(
        kafka_bootstrap, tmp_path, tiny_encoder, extra_env={"DRIFTREC_REFRESH_EVENTS": "5"}
    )
    s = pipe.settings
    items = make_items(24)
    events = make_events(USERS, PER_USER, items, seed=21)
    users = sorted({e.user_id for e in events})
    pipe.create(items)
    a, b = pipe.worker("a"), pipe.worker("b")
    a.start()
    flow = Flow(pipe.kafka(), s.events_topic, [event_bytes(e) for e in events], rate=12.0)
    try:
        a.wait_catalog(len(items))
        flow.start()
        wait_for(lambda: a.metric("driftrec_events_applied_total") > 0, 120, "a applies", a)
        b.start()
        wait_for(
            lambda: _assigned(b) and _assigned(a) | _assigned(b) == set(range(4)), 180, "b joins", b
        )
        joined_at = flow.sent
        wait_for(lambda: b.metric("driftrec_events_applied_total") >= 40, 180, "b applies", b)
        b_applied = b.metric("driftrec_events_applied_total")
        b_skipped = b.metric("driftrec_events_skipped_duplicate_total")
        b.stop()  # leaves the group
        left_at = flow.sent
        wait_for(lambda: _assigned(a) == set(range(4)), 180, "a takes everything back", a)
        assert flow.finish() == len(events)
        wait_for(
            lambda: a.all_applied(users, PER_USER, at_least=True), 240, "all events applied", a
        )

        ref = uninterrupted_run(pipe, items, events)
        assert_worker_profiles(a, ref)
        a_skipped = a.metric("driftrec_events_skipped_duplicate_total")
    finally:
        b.stop()
        a.stop()
    for user, got_profile in changelog_profiles(pipe).items():
        assert got_profile is not None
        assert_same_profile(got_profile, ref.profiles[user])

    lists = [json.loads(m.value) for m in read_all(pipe.kafka(), s.recommendations_topic)]
    published = Counter(rec["event_id"] for rec in lists)
    assert set(published) == ref.list_event_ids, "a list was lost or one was made up"
    index = {e.event_id: n for n, e in enumerate(events)}
    phases = {
        "before": (0, joined_at),
        "both": (joined_at, left_at),
        "after": (left_at, len(events)),
    }
    for name, (lo, hi) in phases.items():
        if hi - lo < 10 * USERS:  # too short on this machine to promise every user a list
            continue
        got = {rec["user_id"] for rec in lists if lo <= index[rec["event_id"]] < hi}
        assert got == set(users), f"users without a list while {name}: {set(users) - got}"
    repeats = sum(n - 1 for n in published.values())
    print(
        f"\nrebalance: b joined at event {joined_at}, left at {left_at}; "
        f"b applied {b_applied:.0f}; duplicates skipped a={a_skipped:.0f} b={b_skipped:.0f}; "
        f"{len(lists)} lists, {repeats} repeated"
    )
