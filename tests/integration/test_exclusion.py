"""DRIFTREC_EXCLUDE=consumed through a real worker on the real broker: with a recent window of 3
events, a user's lists never offer anything they consumed, also long after it left the window
(the profile's Bloom filter), and the stored profile carries the filter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.messages.records import BehaviourEvent
from tests.integration.pipeline_support import Worker, wait_for
from tests.integration.world_support import (
    T0,
    TinyWorld,
    lists_of,
    send_events,
    serving_worker,
    tiny_world,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def world() -> TinyWorld:
    return tiny_world()


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, world: TinyWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    env = {
        "DRIFTREC_EXCLUDE": "consumed",
        "DRIFTREC_RECENT_WINDOW": "3",
        "DRIFTREC_REFRESH_EVENTS": "1",  # a list after every event
    }
    folder = tmp_path_factory.mktemp("exclusion")
    with serving_worker(kafka_bootstrap, world, folder, partitions=1, extra_env=env) as w:
        yield w


def test_consumed_items_never_come_back(worker: Worker, world: TinyWorld) -> None:
    topic = world.topics[0]
    items = world.items_of(topic)[:12]  # one topic: its other items rank first, so these would
    events = [  # come back under "recent" as soon as they leave the 3-event window
        BehaviourEvent(f"x-{k}", "x", T0 + 60 * k, "click", item) for k, item in enumerate(items)
    ]
    send_events(worker, events)
    wait_for(lambda: worker.events_applied("x") == len(events), 90, "12 events", worker)
    lists = [r for r in lists_of(worker, min_count=len(events)) if r["user_id"] == "x"]
    assert len(lists) == len(events)
    for rec in lists:
        upto = {e.item_id for e in events if e.ts <= float(rec["event_ts"])}  # type: ignore[arg-type]
        listed = {i["item_id"] for i in rec["items"]}  # type: ignore[attr-defined]
        assert listed and not upto & listed, (rec["event_id"], upto & listed)
    status, profile = worker.get("/users/x/profile")
    assert status == 200 and len(profile["recent"]) == 3
