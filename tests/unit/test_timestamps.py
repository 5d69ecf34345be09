"""Event timestamps: epoch seconds, epoch milliseconds, RFC 3339 / ISO 8601 strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.messages.records import (
    MAX_TS,
    MIN_TS,
    MS_THRESHOLD,
    RecordError,
    parse_event,
    parse_ts,
)

#: Whole milliseconds inside the accepted range.
MILLIS = st.integers(min_value=int(MIN_TS * 1000), max_value=int(MAX_TS * 1000) - 1)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)


@given(MILLIS)
def test_seconds_and_milliseconds_read_as_the_same_instant(ms: int) -> None:
    assert parse_ts(ms) == pytest.approx(ms / 1000, abs=1e-6)
    assert parse_ts(ms / 1000) == pytest.approx(ms / 1000, abs=1e-6)


@given(MILLIS, OFFSETS)
def test_iso_strings_with_any_offset_are_the_same_instant(ms: int, tz: timezone) -> None:
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)
    assert parse_ts(moment.isoformat()) == pytest.approx(ms / 1000, abs=1e-6)
    utc_z = datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    assert parse_ts(utc_z) == pytest.approx(ms / 1000, abs=1e-6)


@given(MILLIS)
def test_strings_without_offset_are_utc(ms: int) -> None:
    naive = datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None).isoformat()
    assert parse_ts(naive) == pytest.approx(ms / 1000, abs=1e-6)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_are_accepted_exactly_when_their_reading_is_in_range(x: float) -> None:
    seconds = x / 1000 if abs(x) >= MS_THRESHOLD else x
    if MIN_TS <= seconds < MAX_TS:
        assert parse_ts(x) == seconds
    else:
        with pytest.raises(RecordError) as err:
            parse_ts(x)
        assert err.value.reason == "bad_timestamp"


@given(st.text(max_size=80))
def test_any_string_is_a_time_or_bad_timestamp(text: str) -> None:
    try:
        ts = parse_ts(text)
    except RecordError as exc:
        assert exc.reason == "bad_timestamp"
    else:
        assert MIN_TS <= ts < MAX_TS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1733100000, 1733100000.0),
        (1733100000.5, 1733100000.5),
        (1733100000123, 1733100000.123),
        ("2024-12-02T00:40:00Z", 1733100000.0),
        ("2024-12-02T01:40:00+01:00", 1733100000.0),
        ("2024-12-02T00:40:00", 1733100000.0),
        ("2024-12-02", 1733097600.0),
    ],
)
def test_documented_examples(value: object, expected: float) -> None:
    assert parse_ts(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1733100000", "bad_timestamp"),  # a number in a string: ambiguous, refused
        ("soon", "bad_timestamp"),
        ("1999-12-31T23:59:59Z", "bad_timestamp"),
        (1e15, "bad_timestamp"),  # microseconds
        (True, "bad_type"),
        ([1], "bad_type"),
        (float("nan"), "not_finite"),
    ],
)
def test_refused(value: object, reason: str) -> None:
    with pytest.raises(RecordError) as err:
        parse_ts(value)
    assert err.value.reason == reason


def test_event_keeps_epoch_seconds() -> None:
    ev = parse_event(
        {"event_id": "e", "user_id": "u", "ts": 1733100000123, "action": "view", "item_id": "i"}
    )
    assert ev.ts == pytest.approx(1733100000.123)
    assert ev.to_json()["ts"] == pytest.approx(1733100000.123)
