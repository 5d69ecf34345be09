"""The whole pipeline on the real broker with a real `driftrec worker` subprocess.

One worker (a small trained model, 2 partitions) serves every test in this module, in order:
lists for every active user, switch vs noise, dead letters, metrics, and last a kill -9 restart.
Offsets are committed rarely (commit_interval_s=3600) so that the restart redelivers everything
the worker had already applied: the profiles must recognise all of it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from encoders.data.folder import DataFolder, read_folder
from streams.messages.records import BehaviourEvent
from streams.settings import PROJECT_ROOT, Settings
from streams.worker.metrics import Metrics
from tests.integration.pipeline_support import (
    Pipeline,
    Worker,
    event_bytes,
    read_all,
    send,
    wait_for,
)
from tests.schemacheck import assert_valid

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = 1_750_000_000.0

# A small synthetic world: 4 topics, 120 items. Trained 30 epochs (~30 s on 2 cores) once and
# cached under <home>/test-models keyed by these settings; topics separate well (interest cos
# between two topics ~0.35), which a synthetic interest switch needs.
SYNTH = {"users": 80, "items": 120, "topics": 4, "min_events": 20, "max_events": 40,
         "noise_rate": 0.05, "search_rate": 0.0, "bot_fraction": 0.0, "image_dim": 0}  # fmt: skip
EPOCHS = 30


@dataclass(frozen=True)
class TinyWorld:
    model_dir: Path
    data: DataFolder
    item_topics: dict[str, str]

    def items_of(self, topic: str) -> list[str]:
        return sorted(i for i, t in self.item_topics.items() if t == topic)

    @property
    def topics(self) -> list[str]:
        return sorted(set(self.item_topics.values()))


def tiny_world() -> TinyWorld:
    """Train (or reuse) the small model; the worker loads it through the real checkpoint path."""
    from encoders.data.synth import SynthSpec, generate
    from encoders.training.loop import TrainConfig, train_model

    key = hashlib.sha256(json.dumps([SYNTH, EPOCHS, 1]).encode()).hexdigest()[:12]
    base = Settings().home / "test-models" / f"tiny-{key}"
    if not (base / "ok").exists():
        tmp = base.with_name(f"{base.name}.{uuid.uuid4().hex[:6]}")
        generate(SynthSpec(**SYNTH), seed=1).write(tmp / "data")  # type: ignore[arg-type]
        trained = train_model(
            read_folder(tmp / "data"),
            "driftrec",
            seed=0,
            train_config=TrainConfig(epochs=EPOCHS, patience=EPOCHS, device="cpu", progress=False),
            cache_dir=tmp / "cache",
        )
        trained.save(tmp / "model")
        (tmp / "ok").touch()
        if base.exists():
            shutil.rmtree(base)
        tmp.rename(base)
    truth = json.loads((base / "data" / "truth.json").read_text())
    return TinyWorld(base / "model", read_folder(base / "data"), truth["item_topics"])


@pytest.fixture(scope="module")
def world() -> TinyWorld:
    return tiny_world()


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, world: TinyWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    pipe = Pipeline(
        kafka_bootstrap,
        tmp_path_factory.mktemp("worker"),
        model_dir=world.model_dir,
        partitions=2,
        session_timeout_s=None,
        extra_env={"DRIFTREC_COMMIT_INTERVAL_S": "3600", "DRIFTREC_REFRESH_EVENTS": "1000"},
    )
    pipe.create(world.data.items)
    w = pipe.worker()
    try:
        w.start()
        w.wait_ready()
        w.wait_catalog(len(world.data.items), 60)
        yield w
    finally:
        w.stop()


def events_for(user: str, items: list[str], start: int = 0) -> list[BehaviourEvent]:
    return [
        BehaviourEvent(f"{user}-{start + k}", user, T0 + 60 * (start + k), "click", item)
        for k, item in enumerate(items)
    ]


def send_events(worker: Worker, events: list[BehaviourEvent]) -> None:
    send(worker.pipeline.kafka(), worker.pipeline.settings.events_topic, map(event_bytes, events))


def lists_of(worker: Worker, min_count: int = 0) -> list[dict[str, object]]:
    s = worker.pipeline.settings
    records = read_all(worker.pipeline.kafka(), s.recommendations_topic, min_count=min_count)
    return [json.loads(r.value) for r in records if r.value is not None]


SENT: dict[str, list[BehaviourEvent]] = {}


def test_every_active_user_gets_a_list_without_consumed_items(
    worker: Worker, world: TinyWorld
) -> None:
    users = {f"a{u:02d}": world.topics[u % len(world.topics)] for u in range(16)}
    events: list[BehaviourEvent] = []
    for user, topic in users.items():
        events += events_for(user, world.items_of(topic)[:8])
    events.sort(key=lambda e: e.ts)
    send_events(worker, events)
    for e in events:
        SENT.setdefault(e.user_id, []).append(e)
    wait_for(lambda: worker.all_applied(users, 8), 90, "8 events per user", worker)

    lists = lists_of(worker, min_count=len(users))
    got = {str(rec["user_id"]) for rec in lists}
    assert set(users) <= got
    version = worker.get("/health")[1]["model_version"]
    for rec in lists:
        assert_valid("recommendation-list", rec)
        user = str(rec["user_id"])
        upto = [e for e in SENT[user] if e.ts <= float(rec["event_ts"])]  # type: ignore[arg-type]
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
    for e in events:
        SENT.setdefault(e.user_id, []).append(e)
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
    send(worker.pipeline.kafka(), s.events_topic, messages)
    SENT["g00"] = good
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
    assert worker.metric("driftrec_dead_letters_total") == len(BAD)


def test_metrics_after_traffic(worker: Worker) -> None:
    from prometheus_client import CollectorRegistry

    _, text = worker.get("/metrics")
    names = {metric.name for metric in Metrics(CollectorRegistry()).registry.collect()}
    assert len(names) >= 17
    for name in names:
        assert f"\n# TYPE {name}" in text, f"{name} is not exported"
    total = sum(len(v) for v in SENT.values())
    assert worker.metric("driftrec_events_applied_total") == total
    assert worker.metric("driftrec_events_consumed_total") == total + len(BAD)
    assert worker.metric("driftrec_lists_published_total") >= len(SENT)
    assert worker.metric("driftrec_catalog_items") == 120
    # every catalog text went through the text cache once: a hit or a miss
    cache = ("driftrec_encoder_cache_hits_total", "driftrec_encoder_cache_misses_total")
    assert sum(worker.metric(name) for name in cache) >= 120
    assert 'driftrec_model_info{device="cpu"' in text
    assert worker.metric("driftrec_lstm_step_seconds_count") > 0
    assert 'driftrec_lists_published_total{trigger="drift"}' in text
    assert 'driftrec_profile_resets_total{reason="model_version"} 0.0' in text


def test_kill9_restart_continues_without_reapplying(worker: Worker, world: TinyWorld) -> None:
    before = {u: worker.events_applied(u) for u in SENT}
    assert before == {u: len(e) for u, e in SENT.items()}
    lists_before = len(lists_of(worker))
    worker.kill()
    worker.start()
    worker.wait_ready()
    # Nothing was committed (commit interval 3600 s): every event comes back and is skipped.
    total = sum(before.values())
    wait_for(
        lambda: worker.metric("driftrec_events_skipped_duplicate_total") >= total,
        90,
        "redelivered events to be recognised",
        worker,
    )
    assert worker.metric("driftrec_events_applied_total") == 0
    more = events_for("a00", world.items_of(world.topics[0])[8:10], start=8)
    send_events(worker, more)
    wait_for(lambda: worker.events_applied("a00") == 10, 60, "new events after restart", worker)
    after = {u: worker.events_applied(u) for u in SENT}
    assert after == {**before, "a00": 10}
    # Redelivered events were skipped before any policy decision: no list was published twice.
    lists = lists_of(worker)
    assert len(lists) >= lists_before
    triggering = [str(rec["event_id"]) for rec in lists]
    assert len(triggering) == len(set(triggering))
