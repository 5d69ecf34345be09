"""The nesting limit is a property of the message, not of the caller's stack depth."""

from __future__ import annotations

import sys

import pytest

from streams.messages.codec import MAX_JSON_DEPTH, decode_event
from streams.messages.records import RecordError


def nested(depth: int) -> bytes:
    """A valid-looking event whose JSON nests exactly ``depth`` levels (object, context, lists)."""
    lists = depth - 2
    return (
        b'{"event_id":"e","user_id":"u","ts":1.7e9,"action":"view","item_id":"i","context":{"x":'
        + b"[" * lists
        + b"]" * lists
        + b"}}"
    )


def reason(raw: bytes) -> str | None:
    try:
        decode_event(raw, b"u", max_bytes=1 << 20)
    except RecordError as exc:
        return exc.reason
    return None


def test_the_limit_is_exact() -> None:
    assert reason(nested(MAX_JSON_DEPTH)) is None
    assert reason(nested(MAX_JSON_DEPTH + 1)) == "not_json"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 300, 900, 990, 5_000])
def test_the_verdict_does_not_depend_on_the_stack(depth: int) -> None:
    raw = nested(depth)

    def deep(levels: int) -> str | None:
        return reason(raw) if levels == 0 else deep(levels - 1)

    shallow = reason(raw)
    assert shallow == "not_json"
    assert deep(sys.getrecursionlimit() // 2) == shallow
