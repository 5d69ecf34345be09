"""A model promoted while events stream in is swapped in by the running worker: no rebalance, no
event lost or applied twice, /health answering 200 throughout, lists after the swap from the new
model, the old model's metric series gone (real broker, real worker subprocess).

The worker serves the registry's champion A. 300 users each send one event (cold-start lists by
A); then 1,200 more events flow at a steady rate, and part-way through a promotion (the registry
write of ``driftrec models promote``) makes B the champion; 12 new catalog items arrive during the
swap and the stream goes on clicking them. Meanwhile a thread polls ``/health``. The swap
rebuilds at most ``DRIFTREC_REBUILD_AHEAD_MAX`` (100) profiles ahead, the others on their user's
next event. A swap that held the event loop (heartbeats, HTTP and the agents run on it) past the
group session would show as a rebalance: aiokafka logs every group join ("Joined group ...
(generation N)").
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch

from encoders.checkpoint import save_checkpoint
from encoders.config import ModelConfig
from encoders.model import DriftRecModel
from encoders.textenc import TextEncoder
from streams.messages.records import BehaviourEvent, ItemRecord
from streams.registry.state import ModelEntry
from streams.registry.transport import Registry
from tests.integration.pipeline_support import (
    Pipeline,
    Worker,
    event_bytes,
    item_bytes,
    read_all,
    send,
    wait_for,
)
from tests.integration.reliability_support import T0, Flow, make_items

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]

USERS, STREAMED, RATE, AHEAD = 300, 1_200, 50.0, 100
JOINED = "Joined group"  # aiokafka, INFO, once per group join (a rebalance is a join)


def _checkpoint(folder: Path, encoder: TextEncoder, seed: int) -> Path:
    """A servable driftrec checkpoint over the tiny text encoder (untrained weights, seeded)."""
    config = ModelConfig(text_dim=encoder.dim)
    torch.manual_seed(seed)
    net = DriftRecModel(config).eval()
    save_checkpoint(
        folder,
        kind="driftrec",
        config=config.to_json(),
        state=net.state_dict(),
        text_encoder={"id": encoder.encoder_id, "source": str(encoder.source)},
    )
    return folder


def _register(registry: Registry, folder: Path, promote: bool) -> str:
    version, path = registry.store.add(folder, {"data_window": {}, "parent": None})
    entry = ModelEntry(
        version=version,
        status="challenger",
        created=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        path=str(path),
        reason="swap test",
        updated=time.time(),
    )
    if promote:
        registry.register_promoted(entry, "swap test: first champion")
    else:
        registry.register(entry)
    return version


class HealthPoller(threading.Thread):
    """Polls ``/health`` every 0.2 s; keeps every status and the slowest answer."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.statuses: Counter[int] = Counter()
        self.bad: list[tuple[float, int, Any]] = []
        self.slowest = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            t = time.monotonic()
            status, body = self.worker.get("/health")
            took = time.monotonic() - t
            self.slowest = max(self.slowest, took)
            self.statuses[status] += 1
            if status != 200:
                self.bad.append((round(took, 2), status, body))
            self.stop.wait(0.2)


def _joins(worker: Worker) -> int:
    return worker.log().count(JOINED)


def _events(users: int, start: int, count: int, items: list[ItemRecord], prefix: str) -> list[Any]:
    return [
        BehaviourEvent(
            f"{prefix}{n}",
            f"u{n % users}",
            T0 + start + n,
            ("view", "click", "cart")[n % 3],
            items[(n * 7) % len(items)].item_id,
        )
        for n in range(count)
    ]


def test_a_model_swap_under_a_stream_needs_no_rebalance_and_loses_no_event(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder, partitions=4)
    pipe.extra_env.update(
        {
            "DRIFTREC_REGISTRY_TOPIC": f"it-{pipe.uid}-registry",
            "DRIFTREC_REBUILD": "background",
            "DRIFTREC_REBUILD_AHEAD_MAX": str(AHEAD),
            "DRIFTREC_AB_SHARE": "0",
        }
    )
    s = pipe.settings
    encoder = TextEncoder(tiny_encoder, device="cpu")
    registry = Registry(s)
    version_a = _register(registry, _checkpoint(tmp_path / "a", encoder, 1), promote=True)
    version_b = _register(registry, _checkpoint(tmp_path / "b", encoder, 2), promote=False)
    assert version_a != version_b

    items = make_items(60)
    new_items = [ItemRecord(f"new{i}", t.title) for i, t in enumerate(make_items(12, seed=8))]
    first = _events(USERS, 0, USERS, items, "a")
    streamed = _events(USERS, 1_000, STREAMED, items, "s")
    # the second half of the stream also clicks the items that arrive during the swap
    for n in range(STREAMED // 2, STREAMED, 10):
        ev = streamed[n]
        streamed[n] = BehaviourEvent(
            ev.event_id, ev.user_id, ev.ts, "click", new_items[n % len(new_items)].item_id
        )
    last = _events(USERS, 10_000, USERS, items, "z")
    want = Counter(e.user_id for e in first + streamed + last)
    users = sorted(want)

    pipe.create(items)
    worker = pipe.worker()
    worker.start()
    poller = HealthPoller(worker)

    def applied() -> float:
        return worker.metric("driftrec_events_applied_total")

    flow: Flow | None = None
    try:
        worker.wait_ready()
        worker.wait_catalog(len(items))
        assert worker.health()["model_version"] == version_a
        send(pipe.kafka(), s.events_topic, map(event_bytes, first))
        wait_for(lambda: applied() >= USERS, 120, "first event of every user", worker)
        joins_before = _joins(worker)
        assert joins_before >= 1, "the log shows the group join (aiokafka INFO)"

        poller.start()
        flow = Flow(pipe.kafka(), s.events_topic, list(map(event_bytes, streamed)), RATE)
        flow.start()
        wait_for(lambda: flow is not None and flow.sent >= STREAMED // 3, 60, "stream under way")
        # what `driftrec models promote` and the trainer call (the CLI alone takes ~15 s to start
        # on a loaded 2-core machine: longer than the stream)
        registry.promote(version_b, "swap under a stream")
        send(pipe.kafka(), s.items_topic, map(item_bytes, new_items))  # during the swap
        wait_for(lambda: worker.metric("driftrec_model_swaps_total") >= 1, 120, "the swap", worker)
        sent_at_swap = flow.sent
        swap_s = worker.metric("driftrec_model_swap_seconds_sum")
        flow.finish()
        assert sent_at_swap < STREAMED, "the swap ended before the stream did (it was under it)"
        wait_for(lambda: applied() >= USERS + STREAMED, 180, "every streamed event", worker)
        send(pipe.kafka(), s.events_topic, map(event_bytes, last))
        wait_for(lambda: applied() >= sum(want.values()), 120, "the last events", worker)
        poller.stop.set()
        poller.join(10)

        health = worker.health()
        _, exposition = worker.get("/metrics")
        applied_total, skipped = applied(), worker.metric("driftrec_events_skipped_duplicate_total")
        joins_after = _joins(worker)
        profiles = {u: worker.profile(u) for u in users}
        held = worker.metric("driftrec_rebuilt_profiles_held")
        rebuilds = worker.metric("driftrec_profile_rebuilds_total")
        resets = worker.metric("driftrec_profile_resets_total")
        dead = worker.metric("driftrec_dead_letters_total")
        swaps = worker.metric("driftrec_model_swaps_total")
        assert worker.alive() and worker.starts == 1
        lists = [json.loads(m.value) for m in read_all(pipe.kafka(), s.recommendations_topic)]
        dlq = read_all(pipe.kafka(), s.dlq_topic(s.events_topic))
    finally:
        poller.stop.set()
        if flow is not None:
            flow.join(60)
        worker.stop()

    ahead = sum(
        float(line.rsplit(" ", 1)[1])
        for line in str(exposition).splitlines()
        if line.startswith('driftrec_profile_rebuilds_total{mode="background"}')
    )
    print(
        f"\nswap under a stream: swap {swap_s:.2f}s, sent at swap end {sent_at_swap}/{STREAMED}, "
        f"/health polls {dict(poller.statuses)}, slowest answer {poller.slowest:.2f}s, "
        f"group joins {joins_before} -> {joins_after}, skipped duplicates {skipped:.0f}, "
        f"rebuilds {rebuilds:.0f} ({ahead:.0f} ahead), held {held:.0f}"
    )
    assert joins_after == joins_before, "a rebalance happened during the swap"
    assert swaps == 1 and health["model_version"] == version_b
    assert health["catalog_items"] == len(items) + len(new_items), "items of the swap kept"
    assert poller.bad == [] and poller.statuses[200] > 0, f"/health not 200: {poller.bad[:5]}"
    # every event applied exactly once: by the worker, and in each user's profile
    assert applied_total == sum(want.values())
    for user, profile in profiles.items():
        assert profile is not None and profile["events_applied"] == want[user], user
        assert profile["model_version"] == version_b, user
    assert dead == 0 and dlq == [], "nothing dead-lettered (the new items' events included)"
    assert resets == 0, "profiles were rebuilt, never reset"
    assert 0 < ahead <= AHEAD, f"{ahead:.0f} profiles rebuilt ahead: the bound is {AHEAD}"
    assert held <= AHEAD
    assert f'model_version="{version_b}"' in exposition
    assert f'model_version="{version_a}"' not in exposition, "the retired version's series left"
    by_event = {x["event_id"]: x["model_version"] for x in lists if x.get("event_id")}
    first_lists = [by_event[e.event_id] for e in first if e.event_id in by_event]
    last_lists = [by_event[e.event_id] for e in last if e.event_id in by_event]
    assert len(first_lists) == USERS and set(first_lists) == {version_a}, "cold-start lists by A"
    assert last_lists and set(last_lists) == {version_b}, "lists after the swap by B"
    assert set(by_event.values()) == {version_a, version_b}
