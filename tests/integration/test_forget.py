"""`driftrec forget USER` with two workers that both hold the user's profile: it is gone from
every worker's RocksDB, from the changelog and after a restart; the recommendations topic carries
the user's tombstone; other users are untouched."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.integration.pipeline_support import (
    DRIFTREC,
    ROOT,
    Pipeline,
    read_all,
    wait_for,
)
from tests.integration.reliability_support import (
    changelog_profiles,
    local_profile_keys,
    make_events,
    make_items,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS, PER_USER = 16, 4


def test_forget_removes_the_profile_on_every_worker_and_after_a_restart(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(16)
    events = make_events(USERS, PER_USER, items, seed=5)
    users = sorted({e.user_id for e in events})
    a, b = pipe.started_worker(items, "a"), pipe.worker("b")
    try:
        pipe.send_events(events)
        wait_for(lambda: a.all_applied(users, PER_USER), 180, "events applied", a)
        # b takes half of the partitions over: their users now sit in b's RocksDB (restored from
        # the changelog) and still in a's (the copy a kept when the partitions were revoked).
        b.start()

        def split() -> bool:
            parts = [set(w.health().get("assigned_partitions") or ()) for w in (a, b)]
            return all(parts) and parts[0] | parts[1] == set(range(s.partitions))

        wait_for(split, 180, "b owns partitions", b)
        both: set[str] = set()

        def copied() -> bool:
            both.update(local_profile_keys(a) & local_profile_keys(b))
            return bool(both)

        wait_for(copied, 60, "a profile held by both workers", b)
        target = sorted(both)[0]
        others = [u for u in users if u != target]
        held = a.profile(target)
        assert held is not None
        partition = int(next(iter(held["offsets"])).rsplit(":", 1)[1])
        owner = next(w for w in (a, b) if partition in w.health()["assigned_partitions"])
        proc = subprocess.run(
            [str(DRIFTREC), "forget", target, "--wait", "60"],
            env={**os.environ, **pipe.env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"'{target}' forgotten" in proc.stdout
        for w in (a, b):  # each port answers for every user (routed to the owner)
            assert w.profile(target) is None
            assert w.all_applied(others, PER_USER)
        # The owner's copy is gone at once; a's copy follows the changelog (Faust applies standby
        # records in batches, and always before a worker serves a partition or shuts down).
        assert target not in local_profile_keys(owner)
    finally:
        a.stop()
        b.stop()

    assert target not in local_profile_keys(a) | local_profile_keys(b), "a copy survived"
    assert changelog_profiles(pipe)[target] is None, "the changelog ends with a tombstone"
    recs = [m for m in read_all(pipe.kafka(), s.recommendations_topic) if m.key == target.encode()]
    assert recs and recs[-1].value is None, "the user's lists end with a tombstone"
    assert all(m.value is not None for m in recs[:-1])

    a.start()  # alone: it restores every partition from local state and the changelog
    try:
        wait_for(lambda: a.all_applied(others, PER_USER), 180, "profiles after restart", a)
        assert a.profile(target) is None
        assert target not in local_profile_keys(a)
        # A later event of the user starts a new profile from nothing.
        late = replace(events[-1], event_id="after-forget", user_id=target, ts=events[-1].ts + 60)
        pipe.send_events([late])
        wait_for(lambda: a.all_applied([target], 1), 120, "a fresh profile", a)
        assert f"forgot user '{target}' (had a profile)" in a.log() + b.log()
    finally:
        a.stop()
    print(f"\nforget: {target} gone from both workers' RocksDB, the changelog, after a restart")
