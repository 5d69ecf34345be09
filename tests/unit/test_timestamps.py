"""Event timestamps: epoch seconds, epoch milliseconds, RFC 3339 / ISO 8601 strings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.messages.codec import decode_event
from streams.messages.records import (
    DEFAULT_TIMES,
    EARLIEST_TS,
    MAX_TS,
    MIN_TS,
    MS_THRESHOLD,
    RecordError,
    TimeRule,
    parse_event,
    parse_ts,
)
from streams.settings import Settings

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


# --- DRIFTREC_TS_UNIT / DRIFTREC_TS_MIN: historical data without shifting dates ------------------

DEC_1997 = 881_250_949  # 1997-12-04T15:55:49Z
SINCE_1900 = TimeRule("auto", EARLIEST_TS)


def rule(unit: str, since: str) -> TimeRule:
    return Settings(ts_unit=unit, ts_min=since).times  # type: ignore[arg-type]


def test_settings_make_the_rule() -> None:
    assert Settings().times == DEFAULT_TIMES == TimeRule("auto", MIN_TS)
    assert rule("s", "1990-01-01") == TimeRule("s", 631_152_000.0)
    assert rule("ms", "1900-01-01").since == "1900-01-01"
    for bad in ({"ts_min": "1899-12-31"}, {"ts_min": "2100-01-01"}, {"ts_unit": "us"}):
        with pytest.raises(ValueError):
            Settings(**bad)  # type: ignore[arg-type]


def test_pre_2000_times_need_the_user_to_say_so() -> None:
    for value in (DEC_1997, DEC_1997 * 1000, "1997-12-04T15:55:49Z"):
        with pytest.raises(RecordError, match=r"outside \[2000-01-01"):
            parse_ts(value)
    since_1990 = rule("auto", "1990-01-01")
    for unit, value in (("s", DEC_1997), ("ms", DEC_1997 * 1000), ("s", DEC_1997 + 0.5)):
        assert parse_ts(value, rule(unit, "1990-01-01")) == float(value) / (
            1000 if unit == "ms" else 1
        )
        assert parse_ts(value, since_1990) == parse_ts(value, rule(unit, "1990-01-01"))
    assert parse_ts("1997-12-04T16:55:49+01:00", since_1990) == DEC_1997
    event = parse_event(
        {"event_id": "e", "user_id": "u", "ts": DEC_1997 * 1000, "action": "rate", "item_id": "i"},
        rule("ms", "1995-01-01"),
    )
    assert event.ts == DEC_1997


def test_dates_before_1970_in_seconds_and_milliseconds() -> None:
    moon = datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC).timestamp()  # negative
    assert parse_ts(moon, rule("s", "1900-01-01")) == moon
    assert parse_ts(moon * 1000, rule("ms", "1900-01-01")) == moon
    assert parse_ts("1969-07-20T20:17:40Z", rule("auto", "1900-01-01")) == moon
    with pytest.raises(RecordError, match="both in seconds and in milliseconds"):
        parse_ts(moon, SINCE_1900)  # -1.4e8: 1965 in seconds, 1969-12-30 in milliseconds


def test_explicit_unit_never_guesses() -> None:
    with pytest.raises(RecordError, match="epoch seconds or"):
        parse_ts(DEC_1997 * 1000, rule("s", "1990-01-01"))  # year 29896 in seconds
    with pytest.raises(RecordError, match="epoch milliseconds or"):
        parse_ts(DEC_1997, rule("ms", "1990-01-01"))  # 1970-01-11 in milliseconds


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_auto_takes_the_one_reading_in_range(x: float) -> None:
    low = -2_208_988_800.0 + 86_400 * 365 * 75  # 1975: the two ranges are disjoint
    times = TimeRule("auto", low)
    readings = [r for r in (x, x / 1000) if low <= r < MAX_TS]
    if readings:
        assert len(readings) == 1 and parse_ts(x, times) == readings[0]
    else:
        with pytest.raises(RecordError):
            parse_ts(x, times)


@given(st.floats(min_value=-1e13, max_value=1e13))
def test_since_1900_auto_refuses_exactly_the_ambiguous_numbers(x: float) -> None:
    readings = [r for r in (x, x / 1000) if EARLIEST_TS <= r < MAX_TS]
    if len(readings) == 1:
        assert parse_ts(x, SINCE_1900) == readings[0]
    else:
        with pytest.raises(RecordError):
            parse_ts(x, SINCE_1900)


def test_decode_event_uses_the_rule() -> None:
    raw = json.dumps(
        {"event_id": "e", "user_id": "u", "ts": DEC_1997, "action": "view", "item_id": "i"}
    ).encode()
    with pytest.raises(RecordError):
        decode_event(raw, b"u", max_bytes=65_536)
    assert decode_event(raw, b"u", max_bytes=65_536, times=rule("s", "1997-01-01")).ts == DEC_1997
