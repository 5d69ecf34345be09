"""streams.client.ListFollower: repeats dropped by (user, event_id), tombstones applied."""

from __future__ import annotations

import json

import pytest

from streams.client import ListFollower


def _list(user: str, event_id: str, items: list[str]) -> bytes:
    rec = {
        "user_id": user,
        "trigger": "drift",
        "event_id": event_id,
        "items": [{"item_id": i, "score": 0.5, "because": None} for i in items],
    }
    return json.dumps(rec).encode()


def test_a_repeated_list_is_dropped_and_a_new_one_kept() -> None:
    f = ListFollower()
    first = f.apply(b"u1", _list("u1", "e1", ["a", "b"]))
    assert first is not None and [i["item_id"] for i in first.items] == ["a", "b"]
    assert f.apply(b"u1", _list("u1", "e1", ["a", "b"])) is None
    assert f.repeats_dropped == 1
    # Same event_id for another user is not a repeat; a new event of u1 is a new list.
    assert f.apply(b"u2", _list("u2", "e1", ["c"])) is not None
    second = f.apply(b"u1", _list("u1", "e2", ["d"]))
    assert second is not None and not second.forgotten
    assert f.latest["u1"]["event_id"] == "e2"


def test_a_tombstone_forgets_the_user() -> None:
    f = ListFollower()
    f.apply(b"u1", _list("u1", "e1", ["a"]))
    update = f.apply(b"u1", None)
    assert update is not None and update.forgotten and update.items == []
    assert "u1" not in f.latest
    # After forgetting, nothing of the user is remembered (a replayed list is new again).
    assert f.apply(b"u1", _list("u1", "e1", ["a"])) is not None


def test_memory_is_bounded() -> None:
    f = ListFollower(remember=2)
    for n in range(3):
        f.apply(b"u", _list("u", f"e{n}", ["a"]))
    assert f.apply(b"u", _list("u", "e0", ["a"])) is not None  # forgotten: beyond the bound
    assert f.apply(b"u", _list("u", "e2", ["a"])) is None


@pytest.mark.parametrize(
    ("key", "value"),
    [(None, _list("u", "e", [])), (b"u2", _list("u", "e", [])), (b"u", b"[1, 2]")],
)
def test_bad_records_raise(key: bytes | None, value: bytes) -> None:
    with pytest.raises(ValueError):
        ListFollower().apply(key, value)
