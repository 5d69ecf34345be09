"""Poison values on a real worker (sent as raw JSON, as any client could): integers of 400 and
5,000 digits in ``ts`` / ``value``, lone surrogates (the JSON escape ``\\udfff``) in user_id,
event_id, text, context and in an item's title. Each one goes to its DLQ with its reason; the
valid events mixed with them give the profiles of a clean run; the worker never restarts and goes
on consuming. Today they crashed the agent and dropped whole micro-batches with no DLQ record, and
a title with a surrogate killed the catalog sync of every worker.

The second test covers what validation cannot see on the items path: an item the model cannot
embed (``tests/integration/faulty_model.py``) is dead-lettered with processing_error, the rest of
the catalog is indexed and events keep flowing."""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from streams.messages.records import BehaviourEvent, ItemRecord
from tests.integration.pipeline_support import (
    FAULTY_MODEL_ENV,
    Pipeline,
    event_bytes,
    item_bytes,
    read_all,
    send,
    wait_for,
)
from tests.integration.reliability_support import (
    T0,
    assert_worker_profiles,
    make_events,
    make_items,
    uninterrupted_run,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS, PER_USER = 20, 3


def raw_event(event_id: str, user: str, /, **raw_fields: str) -> tuple[bytes, bytes]:
    """(key, value) of an event whose fields may be given as raw JSON text."""
    fields = {
        "event_id": json.dumps(event_id),
        "user_id": json.dumps(user),
        "ts": str(T0),
        "action": '"click"',
        "item_id": '"i1"',
    }
    fields.update(raw_fields)
    value = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"
    return user.encode(), value.encode()


POISON_EVENTS: list[tuple[str, dict[str, str], str]] = [
    ("ts400", {"ts": "1" * 400}, "bad_number"),
    ("ts5000", {"ts": "9" * 5_000}, "bad_number"),
    ("value400", {"value": "-" + "7" * 400}, "bad_number"),
    ("value5000", {"value": "7" * 5_000}, "bad_number"),
    ("user_surrogate", {"user_id": '"\\udfff"'}, "bad_text"),
    ("id_surrogate", {"event_id": '"e\\udfff"'}, "bad_text"),
    ("text_surrogate", {"text": '"red \\ud800 mug"'}, "bad_text"),
    ("context_surrogate", {"context": '{"page": "\\udc80"}'}, "bad_text"),
]
POISON_ITEMS: list[tuple[bytes, bytes, str]] = [
    (b"bad-title", b'{"item_id": "bad-title", "title": "lamp \\udfff"}', "bad_text"),
    (b"bad-tag", b'{"item_id": "bad-tag", "title": "lamp", "tags": ["\\ud800"]}', "bad_text"),
    (
        b"bad-price",
        b'{"item_id": "bad-price", "title": "lamp", "attributes": {"price": '
        + b"9" * 5_000
        + b"}}",
        "bad_number",
    ),
]


def dlq_records(pipe: Pipeline, topic: str) -> list[dict[str, object]]:
    return [json.loads(m.value) for m in read_all(pipe.kafka(), pipe.settings.dlq_topic(topic))]


def test_poison_values_are_dead_lettered_and_the_rest_applied(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(12)
    good = make_events(USERS, PER_USER, items, seed=31)
    rng = random.Random(2)
    stream = [event_bytes(e) for e in good]
    for name, fields, _ in POISON_EVENTS:
        user = f"u{rng.randrange(USERS)}"
        stream.insert(rng.randrange(len(stream) + 1), raw_event(name, user, **fields))
    late = [BehaviourEvent(f"late{k}", f"u{k}", T0 + 9_000 + k, "view", "i2") for k in range(USERS)]
    users = sorted({e.user_id for e in good})

    pipe.create(items)
    send(pipe.kafka(), s.items_topic, [(k, v) for k, v, _ in POISON_ITEMS])
    worker = pipe.worker()
    worker.start()
    try:
        worker.wait_catalog(len(items))
        send(pipe.kafka(), s.events_topic, stream)
        wait_for(
            lambda: (
                worker.all_applied(users, PER_USER)
                and worker.metric("driftrec_dead_letters_total")
                >= len(POISON_EVENTS) + len(POISON_ITEMS)
            ),
            240,
            "valid events applied, poison ones dead-lettered",
            worker,
        )
        # Still consuming, and the catalog still syncs: a new item and events after the poison.
        send(pipe.kafka(), s.items_topic, [item_bytes(ItemRecord("late-item", items[0].title))])
        worker.wait_catalog(len(items) + 1, timeout_s=60)
        pipe.send_events(late)
        wait_for(lambda: worker.all_applied(users, PER_USER + 1), 120, "later events", worker)
        assert_worker_profiles(worker, uninterrupted_run(pipe, items, good + late))
        assert worker.alive() and worker.starts == 1
        events_dlq = dlq_records(pipe, s.events_topic)
        items_dlq = dlq_records(pipe, s.items_topic)
        log = worker.log()
    finally:
        worker.stop()

    def reasons(records: list[dict[str, object]], field: str) -> dict[str, str]:
        out = {}
        for d in records:
            raw = base64.b64decode(str(d["value_b64"]))
            name = raw.split(f'"{field}":'.encode(), 1)[1].split(b'"')[1].decode()
            out[name] = str(d["reason"])
        return out

    assert len(events_dlq) == len(POISON_EVENTS), events_dlq
    got = Counter(str(d["reason"]) for d in events_dlq)
    assert got == Counter(reason for _, _, reason in POISON_EVENTS)
    by_name = {name: reason for name, _, reason in POISON_EVENTS if name not in ("id_surrogate",)}
    assert {k: v for k, v in reasons(events_dlq, "event_id").items() if k in by_name} == by_name
    assert reasons(items_dlq, "item_id") == {k.decode(): reason for k, _, reason in POISON_ITEMS}
    assert "Traceback" not in log, "the worker logged a crash"


def test_an_item_the_model_cannot_embed_is_dead_lettered_and_the_worker_goes_on(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder, extra_env=FAULTY_MODEL_ENV)
    s = pipe.settings
    items = make_items(12)
    broken = ItemRecord("cannot-embed", "embed-poison")
    good = make_events(USERS, PER_USER, items, seed=37)
    users = sorted({e.user_id for e in good})
    pipe.create([*items[:6], broken, *items[6:]])
    worker = pipe.worker()
    worker.start()
    try:
        worker.wait_catalog(len(items))  # every item but the broken one
        pipe.send_events(good)
        wait_for(lambda: worker.all_applied(users, PER_USER), 240, "events applied", worker)
        wait_for(
            lambda: worker.metric("driftrec_dead_letters_total") >= 1, 60, "the DLQ record", worker
        )
        # Later items are still indexed (the catalog sync survived).
        send(pipe.kafka(), s.items_topic, [item_bytes(ItemRecord("late-item", items[0].title))])
        worker.wait_catalog(len(items) + 1, timeout_s=60)
        status, health = worker.get("/health")
        assert worker.alive() and worker.starts == 1
        items_dlq = dlq_records(pipe, s.items_topic)
    finally:
        worker.stop()
    assert status == 200 and health["status"] == "ok"
    assert len(items_dlq) == 1
    record = items_dlq[0]
    assert record["reason"] == "processing_error"
    assert str(record["error"]).startswith("ValueError: injected embedding failure")
    assert json.loads(base64.b64decode(str(record["value_b64"])))["item_id"] == "cannot-embed"
