"""Bytes on a topic <-> validated records, and dead-letter records for everything else.

Every message goes through :func:`decode_event` or :func:`decode_item`, which turn any bad input
into a :class:`~streams.messages.records.RecordError` with a stable ``reason`` (``too_large``,
``not_utf8``, ``not_json``, ``not_finite``, ``bad_number``, ``key_mismatch``, plus the contract's
own reasons such as ``bad_text``);
the agents send those to ``<topic>-dlq`` as :func:`dead_letter` JSON with the original bytes.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Final

from streams.messages.records import (
    DEFAULT_TIMES,
    BehaviourEvent,
    ItemRecord,
    RecordError,
    TimeRule,
    loads_json,
    parse_event,
    parse_item,
)

#: Dead-letter records keep at most this many original bytes, so that base64 of a near-limit
#: message still fits Kafka's default 1 MiB message size; ``value_bytes`` gives the full length.
DLQ_KEEP_BYTES: Final = 512 * 1024

#: Arrays and objects nest at most this deep in any message (driftrec's own records need 3).
MAX_JSON_DEPTH: Final = 32

#: Reasons the streaming layer adds to those of streams.messages.records.
DUPLICATE: Final = "duplicate"
UNKNOWN_ITEM: Final = "unknown_item"


def decode_json(raw: bytes | None, *, max_bytes: int, key: bytes | None = None) -> Any:
    """Size-check, UTF-8-decode and parse one message value."""
    if raw is None:
        raise RecordError("empty", "the message has no value")
    if len(raw) > max_bytes:
        raise RecordError("too_large", f"value is {len(raw)} bytes, limit {max_bytes}")
    if key is not None and len(key) > max_bytes:
        raise RecordError("too_large", f"key is {len(key)} bytes, limit {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError("not_utf8", f"value is not UTF-8 at byte {exc.start}") from exc
    try:
        obj = loads_json(text)
    except json.JSONDecodeError as exc:
        raise RecordError("not_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise RecordError("not_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
    # The parser's own limit depends on how deep the caller's stack is, so the same message could
    # parse in one process and not in another: this limit makes the verdict depend on the bytes.
    if _deeper_than(obj, MAX_JSON_DEPTH):
        raise RecordError("not_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return obj


def _deeper_than(obj: Any, limit: int) -> bool:
    """True when arrays/objects nest more than ``limit`` levels (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def decode_event(
    raw: bytes | None, key: bytes | None, *, max_bytes: int, times: TimeRule = DEFAULT_TIMES
) -> BehaviourEvent:
    """A validated behaviour event (``ts`` read by ``times``); the message key, when present,
    must be its user_id."""
    event = parse_event(decode_json(raw, max_bytes=max_bytes, key=key), times)
    if key is not None and key != event.user_id.encode("utf-8"):
        # The key decides the partition, and so which worker owns the user's profile.
        raise RecordError(
            "key_mismatch", f"message key {key[:60]!r} is not the user_id {event.user_id[:60]!r}"
        )
    return event


def decode_item(raw: bytes | None, key: bytes | None, *, max_bytes: int) -> ItemRecord:
    """A validated catalog item (tombstones are handled by the caller)."""
    item = parse_item(decode_json(raw, max_bytes=max_bytes, key=key))
    if key is not None and key != item.item_id.encode("utf-8"):
        raise RecordError(
            "key_mismatch", f"message key {key[:60]!r} is not the item_id {item.item_id[:60]!r}"
        )
    return item


def encode_json(value: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (the form of every value driftrec writes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def dead_letter(
    *,
    reason: str,
    error: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    now: float | None = None,
) -> bytes:
    """The JSON value of one dead-letter record (original bytes in base64, maybe truncated)."""
    kept = None if value is None else value[:DLQ_KEEP_BYTES]
    return encode_json(
        {
            "reason": reason,
            # A message may quote the bad input: never let a lone surrogate break the record.
            "error": error[:500].encode("utf-8", "backslashreplace").decode("utf-8"),
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "key_b64": None if key is None else base64.b64encode(key[:1024]).decode("ascii"),
            "value_b64": None if kept is None else base64.b64encode(kept).decode("ascii"),
            "value_bytes": None if value is None else len(value),
            "value_truncated": value is not None and len(value) > DLQ_KEEP_BYTES,
            "dead_lettered_ts": time.time() if now is None else now,
        }
    )
