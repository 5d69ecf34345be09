"""Poison values: numbers Python cannot hold as a float or parse at all, and strings that cannot be
written as UTF-8 (a lone surrogate sent as a JSON escape), anywhere in an event or an item. Each is
rejected by the contract with a reason, never raised as a bare OverflowError, ValueError or
UnicodeEncodeError further down the pipeline."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles.profile import UserProfile
from streams.messages.codec import dead_letter, decode_event, decode_item, encode_json
from streams.messages.records import (
    MAX_INT_DIGITS,
    RecordError,
    loads_json,
    parse_event,
    parse_item,
)

MAX = 1 << 20
SURROGATE = "\\udfff"  # the JSON escape of a lone surrogate, as a producer sends it


def event_json(**raw_fields: str) -> bytes:
    """An event whose fields are given as raw JSON text (so any number literal can be sent)."""
    fields = {
        "event_id": '"e1"',
        "user_id": '"u1"',
        "ts": "1700000000",
        "action": '"click"',
        "item_id": '"i1"',
    }
    fields.update(raw_fields)
    return ("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}").encode()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"ts": "1" * 400}, "bad_number"),
        ({"ts": "-" + "9" * 400}, "bad_number"),
        ({"ts": "1" * 5_000}, "bad_number"),
        ({"value": "7" * 400}, "bad_number"),
        ({"value": "7" * 5_000}, "bad_number"),
        ({"value": "1e400"}, "not_finite"),
        ({"ts": "-1e999"}, "not_finite"),
        ({"context": '{"n": ' + "3" * 5_000 + "}"}, "bad_number"),
        ({"context": '{"f": 1e999}'}, "not_finite"),
        ({"user_id": f'"{SURROGATE}"'}, "bad_text"),
        ({"event_id": f'"e{SURROGATE}1"'}, "bad_text"),
        ({"item_id": f'"i{SURROGATE}"'}, "bad_text"),
        ({"text": f'"red {SURROGATE} mug"'}, "bad_text"),
        ({"context": f'{{"page": "{SURROGATE}"}}'}, "bad_text"),
        ({"context": f'{{"{SURROGATE}": 1}}'}, "bad_text"),
        ({"context": '{"a": [[["\\ud800"]]]}'}, "bad_text"),
    ],
)
def test_poison_event_values_are_rejected_with_a_reason(
    fields: dict[str, str], reason: str
) -> None:
    with pytest.raises(RecordError) as info:
        decode_event(event_json(**fields), b"u1", max_bytes=MAX)
    assert info.value.reason == reason
    # The dead-letter record of it is writable (its message never carries the surrogate raw).
    record = dead_letter(
        reason=info.value.reason,
        error=str(info.value),
        topic="t",
        partition=0,
        offset=0,
        key=b"u1",
        value=event_json(**fields),
    )
    assert json.loads(record)["reason"] == reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"item_id": "i1", "title": "lamp \\udfff"}', "bad_text"),
        (b'{"item_id": "i\\ud800", "title": "lamp"}', "bad_text"),
        (b'{"item_id": "i1", "title": "lamp", "description": "\\udc00"}', "bad_text"),
        (b'{"item_id": "i1", "title": "lamp", "category": "\\udc00"}', "bad_text"),
        (b'{"item_id": "i1", "title": "lamp", "tags": ["ok", "\\udfff"]}', "bad_text"),
        (b'{"item_id": "i1", "title": "lamp", "attributes": {"\\udfff": 1}}', "bad_text"),
        (b'{"item_id": "i1", "title": "lamp", "modalities": {"\\udfff": [1]}}', "bad_text"),
        (
            b'{"item_id": "i1", "title": "lamp", "attributes": {"p": ' + b"9" * 400 + b"}}",
            "bad_number",
        ),
        (
            b'{"item_id": "i1", "title": "lamp", "attributes": {"p": ' + b"9" * 5000 + b"}}",
            "bad_number",
        ),
        (b'{"item_id": "i1", "title": "lamp", "modalities": {"m": [1e400]}}', "not_finite"),
    ],
)
def test_poison_item_values_are_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        decode_item(raw, None, max_bytes=MAX)
    assert info.value.reason == reason


def test_parsers_reject_poison_python_values_too() -> None:
    """Records built from any JSON parser (data folders, the live log) get the same verdicts."""
    base: dict[str, Any] = {"event_id": "e", "user_id": "u", "ts": 1.7e9, "action": "view"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**base, "item_id": "i", "ts": 10**400}, "bad_number"),
        ({**base, "item_id": "i", "value": -(10**5000)}, "bad_number"),
        ({**base, "item_id": "i", "value": 10**MAX_INT_DIGITS}, "bad_number"),
        ({**base, "text": "\ud800"}, "bad_text"),
        ({**base, "item_id": "i", "context": {"k": 10**400}}, "bad_number"),
    ]
    for obj, reason in cases:
        with pytest.raises(RecordError) as info:
            parse_event(obj)
        assert info.value.reason == reason, obj
    with pytest.raises(RecordError) as info:
        parse_item({"item_id": "i", "title": "t", "attributes": {"p": 10**400}})
    assert info.value.reason == "bad_number"


def test_number_limit_is_at_its_boundary() -> None:
    ok = decode_event(event_json(value="9" * MAX_INT_DIGITS), b"u1", max_bytes=MAX)
    assert ok.value == float("9" * MAX_INT_DIGITS)
    with pytest.raises(RecordError):
        decode_event(event_json(value="9" * (MAX_INT_DIGITS + 1)), b"u1", max_bytes=MAX)
    assert loads_json("[1, -2, 3.5]") == [1, -2, 3.5]


# --- properties ----------------------------------------------------------------------------
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**450), max_value=10**450)
    | st.floats()
    | st.text()  # any code point, lone surrogates included
)
json_values = st.recursive(
    json_scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=4), kids, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ("event_id", "user_id", "ts", "action", "item_id", "text", "value", "context")


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_any_value_in_any_event_field_is_accepted_whole_or_rejected(field: str, value: Any) -> None:
    """Whatever one field holds, the event is either rejected with a reason or every downstream
    step of the worker (the profile codec, the DLQ and list JSON) can handle it."""
    obj: dict[str, Any] = {
        "event_id": "e1",
        "user_id": "u1",
        "ts": 1.7e9,
        "action": "click",
        "item_id": "i1",
        field: value,
    }
    try:
        event = parse_event(obj)
    except RecordError as exc:
        assert exc.reason
        return
    encode_json(event.to_json())  # the live log and the lists write these back as JSON
    for text in (event.event_id, event.user_id, event.item_id or "", event.text or ""):
        text.encode("utf-8")
    profile = UserProfile(event.user_id, "m", np.zeros(4, np.float32), 2)
    assert UserProfile.from_bytes(profile.to_bytes()).user_id == event.user_id


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=60).map(lambda t: json.dumps({"item_id": "i", "title": t})))
def test_any_item_title_is_accepted_encodable_or_rejected(raw: str) -> None:
    try:
        item = decode_item(raw.encode(), None, max_bytes=MAX)
    except RecordError as exc:
        assert exc.reason in ("bad_text", "missing_field")
        return
    item.text.encode("utf-8")  # the text-cache key and the tokenizer need this


@settings(max_examples=200, deadline=None)
@given(digits=st.integers(min_value=1, max_value=6_000), sign=st.sampled_from(["", "-"]))
def test_any_integer_literal_parses_or_is_a_bad_number(digits: int, sign: str) -> None:
    text = sign + "1" * digits
    try:
        value = loads_json(text)
    except RecordError as exc:
        assert exc.reason == "bad_number" and digits > MAX_INT_DIGITS
    else:
        assert digits <= MAX_INT_DIGITS and abs(value) == int("1" * digits)
