"""Forget requests on the events topic: recognised by header before validation, applied in order
with the user's events, tombstone acknowledged before the table delete, bad ones dead-lettered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from profiles.profile import UserProfile
from streams.messages.records import MAX_ID_CHARS
from streams.worker.control import (
    BAD_CONTROL,
    HEADER,
    ControlError,
    ControlledBatch,
    control_kind,
    forget_record,
    parse_forget,
)
from tests.unit.test_batch_delivery import TOPIC, FakeEvent, Message, _batch, _events


class Table(dict[bytes, bytes]):
    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.order.append(f"write {key.decode()}")
        super().__setitem__(key, value)

    def __delitem__(self, key: bytes) -> None:
        self.order.append(f"delete {key.decode()}")
        super().__delitem__(key)


def _forget(user: str, offset: int, value: bytes | None = None) -> FakeEvent:
    key, default, headers = forget_record(user, now=1.7e9)
    msg = Message(TOPIC, 0, offset, key)
    msg.headers = headers  # type: ignore[attr-defined]
    return FakeEvent(msg, default if value is None else value)


def _controlled(order: list[str]) -> tuple[ControlledBatch, Table, Any, list[str]]:
    handle, _, producer = _batch(order)
    table = Table(order)
    handle.table = table
    forgotten: list[str] = []
    ctl = ControlledBatch(handle.settings, handle, table, producer, forgotten.append)
    return ctl, table, producer, forgotten


def test_forget_record_round_trip() -> None:
    key, value, headers = forget_record("u-7", now=1.0)
    assert key == b"u-7" and headers == [(HEADER, b"forget")]
    assert json.loads(value) == {"forget": "u-7", "requested_ts": 1.0}
    assert parse_forget(key, value) == "u-7"
    assert control_kind(headers) == b"forget" and control_kind({HEADER: b"x"}) == b"x"
    assert control_kind(None) is None and control_kind([("other", b"1")]) is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"u1", b"not json"),
        (b"u1", b"[]"),
        (b"u1", b'{"forget": 5}'),
        (b"u2", b'{"forget": "u1"}'),  # the key decides the partition: it must be the user
        (None, b'{"forget": "u1"}'),
    ],
)
def test_bad_forget_values_are_refused(key: bytes | None, value: bytes) -> None:
    with pytest.raises(ControlError):
        parse_forget(key, value)


def test_forget_record_checks_the_user_id() -> None:
    with pytest.raises(ControlError):
        forget_record(" ")
    with pytest.raises(ControlError):
        forget_record("u" * (MAX_ID_CHARS + 1))


def test_forget_applies_in_order_with_the_users_events() -> None:
    order: list[str] = []
    ctl, table, producer, forgotten = _controlled(order)
    before = _events("u1", 3) + _events("u2", 2, first_offset=3)
    after = _events("u1", 2, first_offset=6)
    after = [FakeEvent(e.message, e.value.replace(b'"u1-e', b'"u1-late-e')) for e in after]
    asyncio.run(ctl([*before, _forget("u1", 5), *after]))

    assert forgotten == ["u1"]
    # The tombstone is acknowledged before the profile is deleted; then u1 starts over.
    tomb = order.index("send recs", order.index("write u1"))
    i_delete = order.index("delete u1")
    assert order.index("ack recs", tomb) < i_delete
    assert ("recs", b"u1", None) in producer.sent
    fresh = UserProfile.from_bytes(table[b"u1"])
    assert fresh.events_applied == 2, "only the events after the request"
    assert [e.event_id for e in fresh.recent] == ["u1-late-e0", "u1-late-e1"]
    assert UserProfile.from_bytes(table[b"u2"]).events_applied == 2


def test_forgetting_a_user_twice_or_without_a_profile_is_harmless() -> None:
    order: list[str] = []
    ctl, table, producer, forgotten = _controlled(order)
    asyncio.run(ctl([_forget("nobody", 0), _forget("nobody", 1)]))
    assert forgotten == ["nobody", "nobody"]
    assert [s for s in producer.sent if s[0] == "recs"] == [("recs", b"nobody", None)] * 2
    assert not table and "delete nobody" not in order


def test_a_bad_control_record_goes_to_the_dlq() -> None:
    order: list[str] = []
    ctl, table, producer, forgotten = _controlled(order)
    asyncio.run(ctl([_forget("u1", 0, value=b'{"forget": "someone-else"}'), *_events("u1", 1, 1)]))
    assert not forgotten
    dlq = [json.loads(v) for t, _, v in producer.sent if t == f"{TOPIC}-dlq" and v is not None]
    assert [d["reason"] for d in dlq] == [BAD_CONTROL]
    assert dlq[0]["offset"] == 0
    assert UserProfile.from_bytes(table[b"u1"]).events_applied == 1
