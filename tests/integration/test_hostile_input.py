"""10,000 malformed messages mixed into good traffic on a real worker: it never crashes, each bad
message lands in the DLQ exactly once with its reason, and the good events give exactly the
profiles of a clean run. The size limits are enforced at their boundaries."""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.messages.codec import decode_event
from streams.messages.records import MAX_CONTEXT_KEYS, MAX_ID_CHARS, MAX_TEXT_CHARS, RecordError
from tests.fuzzcorpus import bad_messages
from tests.integration.pipeline_support import (
    Pipeline,
    Worker,
    event_bytes,
    listening_addresses,
    producer,
    read_all,
    wait_for,
)
from tests.integration.reliability_support import (
    assert_worker_profiles,
    make_events,
    make_items,
    uninterrupted_run,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS, PER_USER, N_BAD = 12, 20, 10_000


def _limit_probes(max_bytes: int) -> list[tuple[str, bytes, bytes, str]]:
    """(kind, key, value, expected reason) just over each documented limit."""

    def ev(**over: Any) -> dict[str, Any]:
        base = {"event_id": "lim", "user_id": "u0", "ts": 1.7e9, "action": "view", "item_id": "i1"}
        return {**base, **over}

    def dump(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    return [
        ("limit:value_bytes", b"u0", dump(ev(text="x" * max_bytes)), "too_large"),
        ("limit:key_bytes", b"k" * (max_bytes + 1), dump(ev()), "too_large"),
        ("limit:text", b"u0", dump(ev(text="y" * (MAX_TEXT_CHARS + 1))), "too_long"),
        ("limit:event_id", b"u0", dump(ev(event_id="e" * (MAX_ID_CHARS + 1))), "too_long"),
        ("limit:item_id", b"u0", dump(ev(item_id="i" * (MAX_ID_CHARS + 1))), "too_long"),
        (
            "limit:context_keys",
            b"u0",
            dump(ev(context={f"k{i}": i for i in range(MAX_CONTEXT_KEYS + 1)})),
            "too_long",
        ),
    ]


def test_ten_thousand_malformed_messages_go_to_the_dlq_and_change_nothing(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(20)
    good = make_events(USERS, PER_USER, items, seed=11)

    def looks_good(i: int) -> dict[str, Any]:
        return good[i % len(good)].to_json()

    bad = [(m.kind, m.key, m.value) for m in bad_messages(N_BAD, looks_good, seed=5)]
    bad += [(kind, key, value) for kind, key, value, _ in _limit_probes(s.max_message_bytes)]
    assert len({k for k, _, _ in bad}) == 14 + 6  # every corpus kind and every limit

    pipe.create(items)
    worker: Worker = pipe.worker()
    worker.start()
    try:
        worker.wait_catalog(len(items))
        # HTTP binds the loopback interface only (no DRIFTREC_WEB_HOST given).
        assert listening_addresses(worker.port) == {"127.0.0.1"}

        # Good events keep their order; bad ones are sprinkled between them.
        rng = random.Random(9)
        stream: list[tuple[str | None, bytes | None, bytes]] = [
            (None, *event_bytes(e)) for e in good
        ]
        for kind, key, value in bad:
            stream.insert(rng.randrange(len(stream) + 1), (kind, key, value))
        prod = producer(pipe.kafka())
        futures = [(kind, prod.send(s.events_topic, key=k, value=v)) for kind, k, v in stream]
        prod.flush()
        prod.close()
        kind_at = {}
        for kind, fut in futures:
            meta = fut.get(timeout=30)
            if kind is not None:
                kind_at[(meta.partition, meta.offset)] = kind
        assert len(kind_at) == len(bad)

        dlq_topic = s.dlq_topic(s.events_topic)
        wait_for(
            lambda: worker.metric("driftrec_dead_letters_total") >= len(bad),
            300,
            "every bad message dead-lettered",
            worker,
        )
        dlq = [json.loads(m.value) for m in read_all(pipe.kafka(), dlq_topic)]
        assert_worker_profiles(worker, uninterrupted_run(pipe, items, good))
        assert worker.alive() and worker.starts == 1
        log = worker.log()
    finally:
        worker.stop()

    # Exactly one DLQ record per bad message, naming where it came from, with the original bytes.
    assert len(dlq) == len(bad)
    by_place = {(d["partition"], d["offset"]): d for d in dlq}
    assert set(by_place) == set(kind_at), "a bad message is missing or a good one was rejected"
    sent = {(kind, key if key is None else key[:1024], value) for kind, key, value in bad}
    reasons: dict[str, Counter[str]] = {}
    for place, d in by_place.items():
        assert d["topic"] == s.events_topic and d["reason"] and d["error"]
        kind = kind_at[place]
        key = None if d["key_b64"] is None else base64.b64decode(d["key_b64"])
        value = base64.b64decode(d["value_b64"])
        assert not d["value_truncated"] and d["value_bytes"] == len(value)
        assert (kind, key, value) in sent  # the DLQ keeps keys up to 1 KiB
        reasons.setdefault(kind, Counter())[d["reason"]] += 1
    # Each reason is the one the codec gives offline (or the catalog's unknown_item).
    expected: dict[str, Counter[str]] = {}
    for kind, key, value in bad:
        try:
            decode_event(value, key, max_bytes=s.max_message_bytes)
            reason = "unknown_item"
        except RecordError as exc:
            reason = exc.reason
        expected.setdefault(kind, Counter())[reason] += 1
    assert reasons == expected
    for kind, _, _, reason in _limit_probes(s.max_message_bytes):
        assert reasons[kind] == Counter({reason: 1}), kind
    assert "Traceback" not in log, "the worker logged a crash"
    summary = ", ".join(f"{k}: {dict(v)}" for k, v in sorted(reasons.items()))
    print(f"\nhostile: {len(bad)} bad messages, {len(dlq)} DLQ records; {summary}")
