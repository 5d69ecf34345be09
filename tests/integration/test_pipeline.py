"""The whole pipeline on the real broker with a real `driftrec worker` subprocess.

One worker (a small trained model, 2 partitions) serves the first four tests; each sends its own
users' events and judges only those (or the change in a counter it caused), so each passes alone
and in any order: lists for every active user, switch vs noise, dead letters, metrics. The
kill -9 restart has a pipeline and worker of its own. Offsets are committed rarely
(commit_interval_s=3600) so that the restart redelivers everything the worker had already
applied: the profiles must recognise all of it.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from jsonschema import Draft202012Validator

from streams.messages.records import BehaviourEvent
from streams.settings import PROJECT_ROOT
from streams.worker.metrics import Metrics
from tests.integration.pipeline_support import Worker, event_bytes, read_all, send, wait_for
from tests.integration.world_support import (
    TinyWorld,
    events_for,
    lists_of,
    send_events,
    serving_worker,
    tiny_world,
)
from tests.schemacheck import assert_valid

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ENV = {"DRIFTREC_COMMIT_INTERVAL_S": "3600", "DRIFTREC_REFRESH_EVENTS": "1000"}


@pytest.fixture(scope="module")
def world() -> TinyWorld:
    return tiny_world()


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, world: TinyWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    folder = tmp_path_factory.mktemp("worker")
    with serving_worker(kafka_bootstrap, world, folder, partitions=2, extra_env=ENV) as w:
        yield w


def sample(text: str, series: str) -> float:
    """The value of one exact series (name and labels) in a /metrics text (0 if absent)."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_every_active_user_gets_a_list_without_consumed_items(
    worker: Worker, world: TinyWorld
) -> None:
    users = {f"a{u:02d}": world.topics[u % len(world.topics)] for u in range(16)}
    events: list[BehaviourEvent] = []
    for user, topic in users.items():
        events += events_for(user, world.items_of(topic)[:8])
    events.sort(key=lambda e: e.ts)
    send_events(worker, events)
    wait_for(lambda: worker.all_applied(users, 8), 90, "8 events per user", worker)

    lists = [rec for rec in lists_of(worker, min_count=len(users)) if rec["user_id"] in users]
    assert {str(rec["user_id"]) for rec in lists} == set(users)
    version = worker.get("/health")[1]["model_version"]
    for rec in lists:
        assert_valid("recommendation-list", rec)
        user = str(rec["user_id"])
        upto = [e for e in events if e.user_id == user and e.ts <= float(rec["event_ts"])]  # type: ignore[arg-type]
        consumed = {e.item_id for e in upto}
        listed = [i["item_id"] for i in rec["items"]]  # type: ignore[attr-defined]
        assert listed and not consumed & set(listed), (user, consumed, listed)
        assert rec["model_version"] == version and rec["event_id"] in {e.event_id for e in upto}
        becauses = [i["because"] for i in rec["items"] if i["because"]]  # type: ignore[attr-defined]
        assert becauses and all(b["item_id"] in consumed for b in becauses)

    status, profile = worker.get("/users/a00/profile")
    assert status == 200 and profile["events_applied"] == 8 and profile["last_event_id"] == "a00-7"
    assert len(profile["interest"]) == 64 and len(profile["recent"]) == 8
    status, rec = worker.get("/users/a00/recommendations")
    assert status == 200 and rec["trigger"] == "request" and len(rec["items"]) == 10
    assert_valid("recommendation-list", rec)
    assert worker.get("/users/nobody/profile")[0] == 404
    check_http_contract(worker)


def check_http_contract(worker: Worker) -> None:
    """The views as schemas/openapi.json describes them: ?k=, JSON 4xx bodies, the document."""
    status, doc = worker.get("/openapi.json")
    assert status == 200
    assert doc == json.loads((PROJECT_ROOT / "schemas" / "openapi.json").read_text())
    components = doc["components"]["schemas"]
    status, rec = worker.get("/users/a00/recommendations?k=3")
    assert status == 200 and len(rec["items"]) == 3 and rec["trigger"] == "request"
    assert_valid("recommendation-list", rec)
    status, rec = worker.get("/users/a00/recommendations?k=40")
    assert status == 200 and len(rec["items"]) == 40  # more than DRIFTREC_TOP_K (10)
    for bad in ("0", "1001", "ten", "2.5"):
        status, body = worker.get(f"/users/a00/recommendations?k={bad}")
        assert status == 400 and body["parameter"] == "k", (bad, body)
        assert "k must be an integer from 1 to 1000" in body["error"]
    status, body = worker.get("/users/nobody/recommendations")
    assert status == 404 and body["user_id"] == "nobody" and "no profile" in body["error"]
    status, body = worker.get("/no/such/path")
    assert status == 404 and "Not Found" in body["error"], body
    request = urllib.request.Request(worker.url + "/health", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    with refused.value as answer:
        assert answer.code == 405 and "GET" in answer.headers["Allow"]
        assert "Method Not Allowed" in json.loads(answer.read())["error"]
    errors = Draft202012Validator(components["Error"])
    for body in (worker.get("/users/nobody/profile")[1], worker.get("/x")[1]):
        errors.validate(body)
    Draft202012Validator(components["Profile"]).validate(worker.get("/users/a00/profile")[1])
    Draft202012Validator(components["Health"]).validate(worker.get("/health")[1])


def test_interest_switch_yields_a_list_and_noise_mostly_does_not(
    worker: Worker, world: TinyWorld
) -> None:
    a_topic, b_topic = world.topics[0], world.topics[1]
    a_items, b_items = world.items_of(a_topic), world.items_of(b_topic)
    users = [f"s{u:02d}" for u in range(12)]
    noise_at, switch_at = 12, 19  # event index of the stray click and of the switch
    events: list[BehaviourEvent] = []
    for n, user in enumerate(users):
        seq = [a_items[(n + k) % len(a_items)] for k in range(12)]
        seq += [b_items[n % len(b_items)]]  # noise
        seq += [a_items[(n + 12 + k) % len(a_items)] for k in range(6)]
        seq += [b_items[(n + 1 + k) % len(b_items)] for k in range(8)]  # the real switch
        events += events_for(user, seq)
    events.sort(key=lambda e: e.ts)
    send_events(worker, events)
    wait_for(lambda: worker.all_applied(users, 27), 90, "27 events each", worker)

    drift_at: dict[str, list[int]] = {u: [] for u in users}
    for rec in lists_of(worker):
        if rec["user_id"] in drift_at and rec["trigger"] == "drift":
            drift_at[str(rec["user_id"])].append(int(str(rec["event_id"]).rsplit("-", 1)[1]))
    noisy = [u for u, at in drift_at.items() if any(noise_at <= i < switch_at for i in at)]
    caught = [u for u, at in drift_at.items() if any(switch_at <= i < switch_at + 4 for i in at)]
    print(f"switch caught within 4 events: {len(caught)}/12; noise lists: {len(noisy)}/12")
    assert len(caught) >= 10, drift_at
    assert len(noisy) <= 3, drift_at


def _event(key: bytes, **fields: object) -> tuple[bytes, bytes]:
    value = {"event_id": "b", "user_id": "u-bad", "ts": 1.75e9, "action": "click", "item_id": "x"}
    return key, json.dumps({**value, **fields}).encode()


BAD: list[tuple[bytes, bytes, str]] = [
    (b"u-bad", b"\xff\xfe not utf-8", "not_utf8"),
    (b"u-bad", b"{not json", "not_json"),
    (b"u-bad", b"x" * 70_000, "too_large"),
    (*_event(b"u-bad", event_id="b1", action="fly"), "unknown_action"),
    (*_event(b"u-bad", event_id="b2", item_id="nope"), "unknown_item"),
    (*_event(b"other", event_id="b3"), "key_mismatch"),
    (b"u-bad", _event(b"u-bad", event_id="b4", ts=1.5)[1].replace(b"1.5", b"NaN"), "not_finite"),
    (b"u-bad", b"[" * 5000 + b"]" * 5000, "not_json"),
]


def test_bad_messages_land_in_the_dlq_while_good_ones_flow(
    worker: Worker, world: TinyWorld
) -> None:
    s = worker.pipeline.settings
    good = events_for("g00", world.items_of(world.topics[2])[:3])
    messages: list[tuple[bytes | None, bytes | None]] = []
    for k, (key, value, _) in enumerate(BAD):
        messages.append((key, value))
        if k < len(good):
            messages.append(event_bytes(good[k]))
    dead_before = worker.metric("driftrec_dead_letters_total")
    send(worker.pipeline.kafka(), s.events_topic, messages)
    wait_for(lambda: worker.events_applied("g00") == 3, 60, "good events applied", worker)

    dlq = read_all(worker.pipeline.kafka(), s.dlq_topic(s.events_topic), min_count=len(BAD))
    records = [json.loads(r.value) for r in dlq]
    assert sorted(r["reason"] for r in records) == sorted(reason for _, _, reason in BAD)
    by_reason = {r["reason"]: r for r in records}
    assert base64.b64decode(by_reason["not_utf8"]["value_b64"]) == BAD[0][1]
    for r in records:
        assert_valid("dead-letter", r)
        assert r["topic"] == s.events_topic and r["offset"] >= 0
        assert r["error"]
    assert worker.metric("driftrec_dead_letters_total") - dead_before == len(BAD)


def test_metrics_after_traffic(worker: Worker, world: TinyWorld) -> None:
    from prometheus_client import CollectorRegistry

    cold = 'driftrec_lists_published_total{trigger="cold_start"}'
    counters = (
        "driftrec_events_applied_total",
        "driftrec_events_consumed_total",
        "driftrec_lstm_step_seconds_count",
    )
    before = {name: worker.metric(name) for name in counters}
    cold_before = sample(str(worker.get("/metrics")[1]), cold)
    users = [f"m{u:02d}" for u in range(4)]
    events = [e for u in users for e in events_for(u, world.items_of(world.topics[3])[:5])]
    send_events(worker, sorted(events, key=lambda e: e.ts))
    wait_for(lambda: worker.all_applied(users, 5), 90, "5 events per user", worker)

    _, text = worker.get("/metrics")
    text = str(text)
    for name in {metric.name for metric in Metrics(CollectorRegistry()).registry.collect()}:
        assert f"\n# TYPE {name}" in text, f"{name} is not exported"
    delta = {name: worker.metric(name) - before[name] for name in counters}
    assert delta["driftrec_events_applied_total"] == len(events)
    assert delta["driftrec_events_consumed_total"] == len(events)
    assert delta["driftrec_lstm_step_seconds_count"] > 0
    assert sample(text, cold) - cold_before == len(users)  # each new user's first list
    assert worker.metric("driftrec_catalog_items") == len(world.data.items)
    # every catalog text went through the text cache once: a hit or a miss
    cache = ("driftrec_encoder_cache_hits_total", "driftrec_encoder_cache_misses_total")
    assert sum(worker.metric(name) for name in cache) >= len(world.data.items)
    assert 'driftrec_model_info{device="cpu"' in text
    assert 'driftrec_profile_resets_total{reason="model_version"} 0.0' in text


def test_kill9_restart_continues_without_reapplying(
    kafka_bootstrap: str, world: TinyWorld, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("restart")
    with serving_worker(kafka_bootstrap, world, folder, partitions=2, extra_env=ENV) as worker:
        users = {f"k{u:02d}": world.topics[u % len(world.topics)] for u in range(6)}
        events = [e for u, t in users.items() for e in events_for(u, world.items_of(t)[:6])]
        send_events(worker, sorted(events, key=lambda e: e.ts))
        wait_for(lambda: worker.all_applied(users, 6), 90, "6 events per user", worker)
        before = {u: worker.events_applied(u) for u in users}
        lists_before = len(lists_of(worker, min_count=len(users)))
        worker.kill()
        worker.start()
        worker.wait_ready()
        # Nothing was committed (commit interval 3600 s): every event comes back and is skipped.
        wait_for(
            lambda: worker.metric("driftrec_events_skipped_duplicate_total") == len(events),
            90,
            "redelivered events to be recognised",
            worker,
        )
        assert worker.metric("driftrec_events_applied_total") == 0
        more = events_for("k00", world.items_of(users["k00"])[6:8], start=6)
        send_events(worker, more)
        wait_for(lambda: worker.events_applied("k00") == 8, 60, "new events after restart", worker)
        assert {u: worker.events_applied(u) for u in users} == {**before, "k00": 8}
        assert worker.metric("driftrec_events_applied_total") == len(more)
        # Redelivered events were skipped before any policy decision: every list published since
        # the restart was triggered by one of the new events.
        lists = lists_of(worker)
        new_ids = {e.event_id for e in more}
        assert all(rec["event_id"] in new_ids for rec in lists[lists_before:]), lists[lists_before:]
        triggering = [str(rec["event_id"]) for rec in lists]
        assert len(triggering) == len(set(triggering))
