"""Message decoding: every bad input becomes a RecordError with a stable reason; DLQ records."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.messages.codec import (
    DLQ_KEEP_BYTES,
    dead_letter,
    decode_event,
    decode_item,
    encode_json,
)
from streams.messages.records import RecordError

GOOD = {"event_id": "e1", "user_id": "u1", "ts": 1.7e9, "action": "click", "item_id": "i1"}


def raw(obj: object) -> bytes:
    return json.dumps(obj).encode()


def reason(value: bytes | None, key: bytes | None = b"u1", max_bytes: int = 4096) -> str:
    with pytest.raises(RecordError) as info:
        decode_event(value, key, max_bytes=max_bytes)
    return info.value.reason


def test_good_event_decodes() -> None:
    event = decode_event(raw(GOOD), b"u1", max_bytes=4096)
    assert (event.user_id, event.item_id, event.action) == ("u1", "i1", "click")
    assert decode_event(raw(GOOD), None, max_bytes=4096).event_id == "e1"


@pytest.mark.parametrize(
    ("value", "key", "want"),
    [
        (None, b"u1", "empty"),
        (b"x" * 5000, b"u1", "too_large"),
        (raw(GOOD), b"k" * 5000, "too_large"),
        (b"\xff\xfe{}", b"u1", "not_utf8"),
        (b"{not json", b"u1", "not_json"),
        (b"[" * 100_000 + b"]" * 100_000, b"u1", "too_large"),
        (raw({**GOOD, "ts": "soon"}), b"u1", "bad_timestamp"),
        (raw({**GOOD, "ts": 1.0}).replace(b"1.0", b"NaN"), b"u1", "not_finite"),
        (raw({**GOOD, "ts": 1e15}), b"u1", "bad_timestamp"),
        (raw({**GOOD, "action": "teleport"}), b"u1", "unknown_action"),
        (raw({k: v for k, v in GOOD.items() if k != "user_id"}), b"u1", "missing_field"),
        (raw(GOOD), b"someone-else", "key_mismatch"),
        (raw([1, 2]), b"u1", "not_an_object"),
    ],
)
def test_bad_events_have_reasons(value: bytes | None, key: bytes | None, want: str) -> None:
    assert reason(value, key) == want


def test_deep_nesting_within_size_is_not_json() -> None:
    deep = b"[" * 50_000 + b"]" * 50_000
    assert reason(deep, max_bytes=200_000) == "not_json"


def test_items_decode_and_check_their_key() -> None:
    item = decode_item(raw({"item_id": "i1", "title": "Tea"}), b"i1", max_bytes=4096)
    assert item.title == "Tea"
    with pytest.raises(RecordError, match="key_mismatch"):
        decode_item(raw({"item_id": "i1", "title": "Tea"}), b"i2", max_bytes=4096)


def test_dead_letter_record_keeps_origin_and_bytes() -> None:
    rec = json.loads(
        dead_letter(
            reason="not_json",
            error="Expecting value",
            topic="behaviour-events",
            partition=3,
            offset=42,
            key=b"u1",
            value=b"\xff{",
            now=5.0,
        )
    )
    assert rec["reason"] == "not_json" and (rec["topic"], rec["partition"], rec["offset"]) == (
        "behaviour-events",
        3,
        42,
    )
    assert base64.b64decode(rec["value_b64"]) == b"\xff{"
    assert base64.b64decode(rec["key_b64"]) == b"u1"
    assert rec["value_truncated"] is False and rec["dead_lettered_ts"] == 5.0


def test_dead_letter_truncates_huge_values() -> None:
    big = b"a" * (DLQ_KEEP_BYTES + 10)
    rec = json.loads(
        dead_letter(
            reason="too_large", error="", topic="t", partition=0, offset=0, key=None, value=big
        )
    )
    assert rec["value_truncated"] is True and rec["value_bytes"] == len(big)
    assert len(base64.b64decode(rec["value_b64"])) == DLQ_KEEP_BYTES


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_never_escape_as_other_errors(value: bytes) -> None:
    try:
        decode_event(value, b"u1", max_bytes=4096)
    except RecordError as exc:
        assert exc.reason
    # Anything that decodes is a valid event of user u1.


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*GOOD, "text", "value", "context"]), json_values))
def test_arbitrary_json_objects_are_valid_or_rejected_with_reason(obj: dict[str, object]) -> None:
    try:
        value = json.dumps(obj).encode()
    except ValueError:
        return
    try:
        event = decode_event(value, None, max_bytes=65536)
    except RecordError as exc:
        assert exc.reason
    else:
        assert encode_json(event.to_json())  # a valid event re-encodes as strict JSON
