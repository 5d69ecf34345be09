"""Every message of the hostile-input corpus is rejected by the stream codec with a reason.

(``unknown_item`` messages are well-formed; only the catalog can reject them, which the
integration tests check on a running worker.)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from streams.messages.codec import decode_event
from streams.messages.records import RecordError
from tests.fuzzcorpus import MUTATIONS, bad_messages

MAX_BYTES = 64 * 1024


def good(i: int) -> dict[str, Any]:
    return {
        "event_id": f"g{i}",
        "user_id": f"u{i % 50}",
        "ts": 1_300_000_000.0 + i,
        "action": "click",
        "item_id": "i1",
    }


def test_corpus_is_rejected_with_reasons() -> None:
    reasons: Counter[str] = Counter()
    decoded_kinds: Counter[str] = Counter()
    for msg in bad_messages(10_000, good, seed=7):
        try:
            decode_event(msg.value, msg.key, max_bytes=MAX_BYTES)
        except RecordError as exc:
            assert exc.reason, msg
            reasons[exc.reason] += 1
        else:
            decoded_kinds[msg.kind] += 1
    assert set(decoded_kinds) <= {"unknown_item"}
    assert sum(reasons.values()) + decoded_kinds["unknown_item"] == 10_000
    # every family of bad input shows up under its own reason
    for reason in ("not_json", "not_utf8", "bad_type", "missing_field", "too_long", "not_finite"):
        assert reasons[reason] > 0, reasons
    for reason in ("bad_timestamp", "unknown_action", "not_an_object", "bad_number", "bad_text"):
        assert reasons[reason] > 0, reasons


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_corpus_is_deterministic(kind: str) -> None:
    first = [m for m in bad_messages(10 * len(MUTATIONS), good, seed=3) if m.kind == kind]
    again = [m for m in bad_messages(10 * len(MUTATIONS), good, seed=3) if m.kind == kind]
    assert first == again and len(first) == 10
