"""The data contracts: valid records round-trip, every kind of bad record names its reason."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from encoders.data.folder import DataFolderError, read_folder, write_folder
from streams.messages.records import (
    ACTIONS,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    RecordError,
    parse_event,
    parse_item,
)


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "e1",
        "user_id": "u1",
        "ts": 1_300_000_000.0,
        "action": "click",
        "item_id": "i1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def test_event_round_trips_through_json() -> None:
    raw = event(text="red mug", value=3, context={"page": "home"})
    parsed = parse_event(raw)
    assert parsed.action_index == ACTIONS.index("click")
    assert parse_event(json.loads(json.dumps(parsed.to_json()))) == parsed


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([1, 2], "not_an_object"),
        (event(user_id=...), "missing_field"),
        (event(ts=...), "missing_field"),
        (event(user_id=7), "bad_type"),
        (event(user_id="  "), "bad_type"),
        (event(user_id="u" * (MAX_ID_CHARS + 1)), "too_long"),
        (event(ts="yesterday"), "bad_timestamp"),
        (event(ts=True), "bad_type"),
        (event(ts=math.nan), "not_finite"),
        (event(ts=math.inf), "not_finite"),
        (event(ts=-5.0), "bad_timestamp"),
        (event(ts=9e12), "bad_timestamp"),
        (event(action="teleport"), "unknown_action"),
        (event(action=None), "missing_field"),
        (event(item_id=None), "missing_field"),
        (event(text="x" * (MAX_TEXT_CHARS + 1)), "too_long"),
        (event(value="high"), "bad_type"),
        (event(context=[1]), "not_an_object"),
    ],
)
def test_bad_events_name_their_reason(raw: object, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_event(raw)
    assert info.value.reason == reason


def test_search_event_needs_only_text() -> None:
    parsed = parse_event(event(item_id=None, action="search", text="blue lamp"))
    assert parsed.item_id is None and parsed.text == "blue lamp"


def test_item_text_joins_fields_and_round_trips() -> None:
    raw = {
        "item_id": "i1",
        "title": "Lamp",
        "category": "home",
        "tags": ["blue", "desk"],
        "description": "A small lamp",
        "modalities": {"image": [0.5, -1]},
        "attributes": {"price": 12.5},
    }
    item = parse_item(raw)
    assert item.text == "Lamp. home. blue desk. A small lamp"
    assert item.modalities["image"] == (0.5, -1.0)
    assert parse_item(item.to_json()) == item


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"item_id": "i"}, "missing_field"),
        ({"item_id": "i", "title": ""}, "missing_field"),
        ({"item_id": "i", "title": "t", "tags": "a,b"}, "bad_type"),
        ({"item_id": "i", "title": "t", "modalities": {"image": []}}, "bad_type"),
        ({"item_id": "i", "title": "t", "modalities": {"image": [math.inf]}}, "not_finite"),
        ({"item_id": "i", "title": "t", "attributes": {"price": "cheap"}}, "bad_type"),
    ],
)
def test_bad_items_name_their_reason(raw: object, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_item(raw)
    assert info.value.reason == reason


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.text(), st.lists, max_leaves=8))
def test_any_json_value_is_parsed_or_rejected_with_a_reason(value: object) -> None:
    for parse in (parse_event, parse_item):
        try:
            parse(value)
        except RecordError as exc:
            assert exc.reason


def test_data_folder_round_trip_is_time_ordered_and_stable(tmp_path: Path) -> None:
    items = [parse_item({"item_id": "a", "title": "A"}), parse_item({"item_id": "b", "title": "B"})]
    events = [
        parse_event(event(event_id="late", ts=1_400_000_000.0, item_id="a")),
        parse_event(event(event_id="first", ts=1_300_000_000.0, item_id="b")),
        parse_event(event(event_id="second", ts=1_300_000_000.0, item_id="a")),
    ]
    write_folder(tmp_path, items, events)
    folder = read_folder(tmp_path)
    assert folder.items == items
    assert [e.event_id for e in folder.events] == ["first", "second", "late"]


def test_data_folder_errors_say_where(tmp_path: Path) -> None:
    write_folder(tmp_path, [parse_item({"item_id": "a", "title": "A"})], [])
    (tmp_path / "events.jsonl").write_text(json.dumps(event(item_id="zzz")) + "\n")
    with pytest.raises(DataFolderError, match=r"events.jsonl:1: unknown item_id 'zzz'"):
        read_folder(tmp_path)
    (tmp_path / "events.jsonl").write_text("{not json\n")
    with pytest.raises(DataFolderError, match=r"events.jsonl:1: not JSON"):
        read_folder(tmp_path)
    with pytest.raises(DataFolderError, match="not found"):
        read_folder(tmp_path / "missing")
