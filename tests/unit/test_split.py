"""Leave-last-out split: targets, histories, skipped users, split-file overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from encoders.data.split import SplitError, leave_last_out, read_split_file
from streams.messages.records import BehaviourEvent

T0 = 1_600_000_000.0


def ev(
    user: str, n: int, item: str | None, action: str = "click", text: str | None = None
) -> BehaviourEvent:
    return BehaviourEvent(f"{user}-{n}", user, T0 + n, action, item_id=item, text=text)


def log() -> list[BehaviourEvent]:
    return [
        ev("a", 0, "i1"),
        ev("b", 1, "i1"),
        ev("a", 2, "i2"),
        ev("a", 3, None, "search", text="shoes"),
        ev("b", 4, "i2"),  # b has only 2 item events -> skipped
        ev("a", 5, "i3"),
        ev("a", 6, "i4"),
        ev("a", 7, None, "search", text="after the end"),
    ]


def test_leave_last_out_targets_and_histories() -> None:
    split = leave_last_out(log())
    assert split.skipped_users == 1
    (a,) = split.users
    assert (a.user_id, a.valid_item, a.test_item) == ("a", "i3", "i4")
    assert [e.event_id for e in a.history("valid")] == ["a-0", "a-2", "a-3"]
    assert [e.event_id for e in a.history("test")] == ["a-0", "a-2", "a-3", "a-5"]
    assert a.target("valid") == "i3"
    # the trailing search after the test event is dropped; b's log is training data in full
    assert [e.event_id for e in split.train_events()] == ["a-0", "b-1", "a-2", "a-3", "b-4"]


def test_split_file_overrides_targets(tmp_path: Path) -> None:
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"a": {"valid": "i2", "test": "i3"}}))
    split = leave_last_out(log(), read_split_file(path))
    (a,) = split.users
    assert (a.valid_item, a.test_item) == ("i2", "i3")
    assert [e.event_id for e in a.history("test")] == ["a-0", "a-2", "a-3"]
    assert split.from_file and split.skipped_users == 1


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"zz": {"valid": "i1", "test": "i2"}}, "no events"),
        ({"a": {"valid": "i1", "test": "nope"}}, "never has test item"),
        ({"a": {"valid": "i4", "test": "i3"}}, "no event on valid item"),
        ({"a": {"valid": "i1", "test": "i2"}}, "no training event"),
    ],
)
def test_bad_split_file_targets(tmp_path: Path, content: object, match: str) -> None:
    path = tmp_path / "split.json"
    path.write_text(json.dumps(content))
    with pytest.raises(SplitError, match=match):
        leave_last_out(log(), read_split_file(path))


def test_malformed_split_file(tmp_path: Path) -> None:
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"a": {"valid": 3}}))
    with pytest.raises(SplitError, match="must map to"):
        read_split_file(path)
    path.write_text("[1]")
    with pytest.raises(SplitError, match="JSON object"):
        read_split_file(path)
