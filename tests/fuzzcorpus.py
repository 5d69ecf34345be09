"""A deterministic corpus of malformed behaviour-event messages, for the hostile-input tests.

Every message is (key, value) bytes as a producer could send them. Each kind mutates a valid event
in one way a real producer bug or an attacker would: not JSON, invalid UTF-8, wrong types, missing
fields, huge texts, deep nesting, NaN / infinity, integers too long for a float or for Python's
int parser, lone surrogates (JSON ``\\udfff`` escapes), bad timestamps, unknown items and actions,
oversized keys. None of them may change any profile; all of them must reach the dead-letter topic.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Mutation = Callable[[random.Random, dict[str, Any]], tuple[bytes | None, bytes]]


@dataclass(frozen=True)
class BadMessage:
    kind: str
    key: bytes | None
    value: bytes


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()


def _key(event: dict[str, Any]) -> bytes:
    return str(event["user_id"]).encode()


def _not_json(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    raw = _dump(ev)
    cut = rng.randrange(1, len(raw) - 1)
    choices = [raw[:cut], b"<xml/>", b"", b"{" * rng.randrange(1, 5), raw + b"}garbage"]
    return _key(ev), rng.choice(choices)


def _bad_utf8(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    raw = bytearray(_dump(ev))
    raw.insert(rng.randrange(1, len(raw) - 1), rng.choice([0xFF, 0xC3, 0xED, 0x80]))
    return _key(ev), bytes(raw)


def _wrong_type(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    field = rng.choice(["event_id", "user_id", "ts", "action", "item_id", "text", "value"])
    # Each choice is wrong for the field it lands on (an empty id is wrong, an empty text is not).
    choices: list[Any] = [[1, 2], {"a": 1}, True]
    choices.append("noon" if field in ("ts", "value") else 12345)
    if field != "text":
        choices.append("")
    ev[field] = rng.choice(choices)
    return _key(ev) if isinstance(ev["user_id"], str) else b"?", _dump(ev)


def _missing_field(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    key = _key(ev)
    ev.pop(rng.choice(["event_id", "user_id", "ts", "action"]))
    if rng.random() < 0.3:  # an event with neither item nor text
        ev.pop("item_id", None)
    return key, _dump(ev)


def _huge_text(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    ev["text"] = "spam " * rng.randrange(401, 4_000)  # over MAX_TEXT_CHARS, not megabytes
    return _key(ev), _dump(ev)


def _deep_nesting(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    depth = rng.randrange(200, 5_000)
    return _key(ev), _dump(ev)[:-1] + b', "context": ' + b"[" * depth + b"]" * depth + b"}"


def _non_finite(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    target = rng.choice(["ts", "value", "context"])
    bad = rng.choice([float("nan"), float("inf"), float("-inf")])
    if target == "context":
        ev["context"] = {"dwell": bad}
    else:
        ev[target] = bad
    return _key(ev), _dump(ev)


def _huge_integer(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    # 400 digits overflow float(); 5,000 exceed Python's int-parsing limit (4,300 digits).
    target = rng.choice(["ts", "value", "context"])
    digits = rng.choice(["9" * 400, "-" + "1" * 400, "7" * 5_000])
    ev[target] = {"n": "@@"} if target == "context" else "@@"
    return _key(ev), _dump(ev).replace(b'"@@"', digits.encode())


def _lone_surrogate(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    key = _key(ev)  # the user's own key: the value alone is poisoned
    target = rng.choice(["user_id", "event_id", "item_id", "text", "context"])
    bad = rng.choice(["\udfff", "x\ud800y", "\udc80"])
    ev[target] = {"q": bad} if target == "context" else bad
    # json.dumps writes a lone surrogate as its \uXXXX escape, as any JSON producer would.
    return key, _dump(ev)


def _bad_timestamp(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    ev["ts"] = rng.choice([-1.0, -1e12, 0, 9e12, 1e300, 4_200_000_000])
    return _key(ev), _dump(ev)


def _unknown_item(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    ev["item_id"] = f"no-such-item-{rng.randrange(10**9)}"
    return _key(ev), _dump(ev)


def _unknown_action(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    ev["action"] = rng.choice(["teleport", "VIEW", "", "drop table", "clicked"])
    return _key(ev), _dump(ev)


def _oversized_key(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    ev["user_id"] = "u" * rng.randrange(129, 5_000)
    return _key(ev), _dump(ev)


def _not_an_object(rng: random.Random, ev: dict[str, Any]) -> tuple[bytes | None, bytes]:
    return _key(ev), rng.choice([b"[]", b"42", b'"event"', b"null", b"true", _dump([ev])])


MUTATIONS: dict[str, Mutation] = {
    "not_json": _not_json,
    "bad_utf8": _bad_utf8,
    "wrong_type": _wrong_type,
    "missing_field": _missing_field,
    "huge_text": _huge_text,
    "deep_nesting": _deep_nesting,
    "non_finite": _non_finite,
    "huge_integer": _huge_integer,
    "lone_surrogate": _lone_surrogate,
    "bad_timestamp": _bad_timestamp,
    "unknown_item": _unknown_item,
    "unknown_action": _unknown_action,
    "oversized_key": _oversized_key,
    "not_an_object": _not_an_object,
}


def bad_messages(
    n: int, good_template: Callable[[int], dict[str, Any]], seed: int = 0
) -> Iterator[BadMessage]:
    """``n`` malformed messages, cycling through every kind, each derived from a fresh good event
    ``good_template(i)`` (so they look like real traffic until the one broken detail)."""
    rng = random.Random(seed)
    kinds = sorted(MUTATIONS)
    for i in range(n):
        kind = kinds[i % len(kinds)]
        event = good_template(i)
        event["event_id"] = f"bad-{i}"
        key, value = MUTATIONS[kind](rng, event)
        yield BadMessage(kind=kind, key=key, value=value)
