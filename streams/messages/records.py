"""The data contracts (docs/contracts.md) as typed records, with one validating parser per record.

Data folders (``items.jsonl`` / ``events.jsonl``), the Kafka topics and training from the live
log all go through :func:`parse_item` and :func:`parse_event`, so a record is valid in one place
exactly when it is valid in every other. A bad record raises :class:`RecordError` whose ``reason``
is a short stable slug (for dead-letter records and counters) and whose message says what was wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, Literal

#: Actions a behaviour event may carry, in a fixed order (their index is the action embedding id).
ACTIONS: Final[tuple[str, ...]] = (
    "view",
    "click",
    "cart",
    "purchase",
    "like",
    "share",
    "comment",
    "search",
    "skip",
    "rate",
)

# Size limits on every input (docs/contracts.md, "Size limits"). They bound the memory one message
# can take and keep the encoder's work per event predictable.
MAX_ID_CHARS: Final = 128
MAX_TEXT_CHARS: Final = 2_000
MAX_TITLE_CHARS: Final = 500
MAX_TAGS: Final = 32
MAX_MODALITIES: Final = 4
MAX_MODALITY_DIM: Final = 2_048
MAX_ATTRIBUTES: Final = 32
MAX_CONTEXT_KEYS: Final = 32
#: Accepted event times, [2000-01-01, 2100-01-01) UTC: anything outside is a producer bug.
MIN_TS: Final = 946_684_800.0
MAX_TS: Final = 4_102_444_800.0
#: A numeric ``ts`` at or above this magnitude is epoch milliseconds, below it epoch seconds.
#: 1e11 seconds is the year 5138 and 1e11 milliseconds is 1973-03-03, so within the default
#: accepted range the two readings never overlap.
MS_THRESHOLD: Final = 1e11
#: Earliest ``DRIFTREC_TS_MIN`` (1900-01-01 UTC).
EARLIEST_TS: Final = -2_208_988_800.0
#: Longest accepted timestamp string (RFC 3339 with nanoseconds and an offset is 35).
MAX_TS_CHARS: Final = 64
#: JSON integers have at most this many digits anywhere in a message. Python's own limit (4,300
#: digits) raises a bare ValueError, and far shorter ones overflow float(): no field needs more.
MAX_INT_DIGITS: Final = 100


class RecordError(ValueError):
    """A record violates its data contract. ``reason`` is a short slug for DLQs and metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TimeRule:
    """How a numeric ``ts`` is read and which instants are accepted (DRIFTREC_TS_UNIT,
    DRIFTREC_TS_MIN). ``auto`` takes whichever of the two readings, seconds or milliseconds,
    lies in [``min_ts``, ``MAX_TS``) and refuses a number for which both do (possible only with
    ``min_ts`` before 1970-02-17): then the unit must be given."""

    unit: Literal["auto", "s", "ms"] = "auto"
    min_ts: float = MIN_TS

    def __post_init__(self) -> None:
        if not EARLIEST_TS <= self.min_ts < MAX_TS:
            raise ValueError(f"min_ts {self.min_ts} is outside [1900-01-01, 2100-01-01)")

    @property
    def since(self) -> str:
        """The first accepted day, e.g. ``2000-01-01``."""
        return (
            (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=self.min_ts)).date().isoformat()
        )


#: The default rule: seconds or milliseconds by magnitude, from 2000-01-01.
DEFAULT_TIMES: Final = TimeRule()


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One catalog item (value of the compacted ``items`` topic, a line of ``items.jsonl``)."""

    item_id: str
    title: str
    description: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    #: Optional extra modality vectors by name, e.g. {"image": (0.1, ...)}; missing ones masked.
    modalities: Mapping[str, tuple[float, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: Optional numeric attributes, e.g. {"price": 2.55}.
    attributes: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def text(self) -> str:
        """The text the language model encodes for this item."""
        parts = [self.title, self.category, " ".join(self.tags), self.description]
        return ". ".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"item_id": self.item_id, "title": self.title}
        if self.description:
            out["description"] = self.description
        if self.category:
            out["category"] = self.category
        if self.tags:
            out["tags"] = list(self.tags)
        if self.modalities:
            out["modalities"] = {k: list(v) for k, v in self.modalities.items()}
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        return out


@dataclass(frozen=True, slots=True)
class BehaviourEvent:
    """One behaviour event (value of ``behaviour-events``, a line of ``events.jsonl``)."""

    event_id: str
    user_id: str
    ts: float
    action: str
    item_id: str | None = None
    text: str | None = None
    value: float | None = None
    context: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def action_index(self) -> int:
        return ACTIONS.index(self.action)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "user_id": self.user_id,
            "ts": self.ts,
            "action": self.action,
        }
        if self.item_id is not None:
            out["item_id"] = self.item_id
        if self.text is not None:
            out["text"] = self.text
        if self.value is not None:
            out["value"] = self.value
        if self.context:
            out["context"] = dict(self.context)
        return out


def _require_map(obj: object, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise RecordError(
            "not_an_object", f"{what} must be a JSON object, got {type(obj).__name__}"
        )
    return obj


def _check_str(value: str, key: str) -> str:
    """``value`` unless it holds a lone surrogate (a JSON ``\\udfff`` escape decodes to one):
    such a string cannot be written as UTF-8, so it would crash every encoder downstream."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RecordError(
            "bad_text", f"'{key}' holds a lone surrogate at character {exc.start}"
        ) from exc
    return value


def _check_json(value: object, key: str) -> None:
    """Every string (keys too) of a free-form JSON value encodable, every number finite."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            _check_str(node, key)
        elif isinstance(node, float) and not math.isfinite(node):
            raise RecordError("not_finite", f"'{key}' holds a non-finite number")
        elif isinstance(node, int) and not isinstance(node, bool):
            _check_int(node, key)
        elif isinstance(node, Mapping):
            for k, v in node.items():
                stack.append(str(k))
                stack.append(v)
        elif isinstance(node, list | tuple):
            stack.extend(node)


def _check_int(value: int, key: str) -> None:
    # Compare magnitudes, not str(value): that conversion itself fails past 4,300 digits.
    if abs(value) >= 10**MAX_INT_DIGITS:
        raise RecordError("bad_number", f"'{key}' has more than {MAX_INT_DIGITS} digits")


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise RecordError(
            "bad_number", f"an integer of {len(digits)} digits, limit {MAX_INT_DIGITS}"
        )
    return int(digits)


def _parse_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise RecordError("not_finite", f"{text[:40]} is out of a float's range")
    return number


def _reject_constant(name: str) -> float:
    # json.loads accepts NaN and Infinity by default; they are not JSON and never valid here.
    raise RecordError("not_finite", f"{name} is not a JSON number")


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` for untrusted input: NaN/Infinity, integers of more than
    :data:`MAX_INT_DIGITS` digits and floats out of range raise :class:`RecordError`
    (``not_finite`` / ``bad_number``) instead of parsing or raising a bare ValueError."""
    return json.loads(
        text, parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float
    )


def _required_id(obj: Mapping[str, Any], key: str) -> str:
    value = _optional_id(obj, key)
    if value is None:
        raise RecordError("missing_field", f"'{key}' is required")
    return value


def _optional_id(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RecordError("bad_type", f"'{key}' must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise RecordError("too_long", f"'{key}' is {len(value)} chars, limit {MAX_ID_CHARS}")
    return _check_str(value, key)


def _text(obj: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError("bad_type", f"'{key}' must be a string")
    if len(value) > limit:
        raise RecordError("too_long", f"'{key}' is {len(value)} chars, limit {limit}")
    return _check_str(value, key)


def _number(value: object, key: str) -> float:
    # bool is an int subclass; true/false is never a number in our contracts.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError("bad_type", f"'{key}' must be a number")
    if isinstance(value, int):
        _check_int(value, key)
    try:
        number = float(value)
    except OverflowError as exc:  # an int beyond a float's range
        raise RecordError("bad_number", f"'{key}' is out of a float's range") from exc
    if not math.isfinite(number):
        raise RecordError("not_finite", f"'{key}' must be finite, got {value!r}")
    return number


def parse_ts(value: object, times: TimeRule = DEFAULT_TIMES) -> float:
    """Epoch seconds from a ``ts`` value: epoch seconds, epoch milliseconds or an ISO 8601 string.

    A number is read as ``times.unit`` says; ``auto`` (the default) takes the reading that lies
    in the accepted range, which by default means: magnitude >= :data:`MS_THRESHOLD` is
    milliseconds. Strings are RFC 3339 / ISO 8601 date-times (``2024-12-03T10:15:00Z``,
    ``2024-12-03T11:15:00+01:00``, ``2024-12-03``); one without a UTC offset is read as UTC.
    The result must lie in [``times.min_ts``, :data:`MAX_TS`).
    """
    low = times.min_ts
    if isinstance(value, str):
        ts = _iso_seconds(value)
    else:
        ts = _number(value, "ts")
        if times.unit == "ms":
            ts /= 1000.0
        elif times.unit == "auto":
            as_ms = ts / 1000.0
            seconds_ok, ms_ok = low <= ts < MAX_TS, low <= as_ms < MAX_TS
            if seconds_ok and ms_ok:
                raise RecordError(
                    "bad_timestamp",
                    f"'ts' {value!r:.60} reads as a time after {times.since} both in seconds "
                    "and in milliseconds: set DRIFTREC_TS_UNIT to s or ms",
                )
            if ms_ok:
                ts = as_ms
    if not low <= ts < MAX_TS:
        unit = {
            "auto": "epoch seconds, epoch milliseconds",
            "s": "epoch seconds",
            "ms": "epoch milliseconds",
        }
        raise RecordError(
            "bad_timestamp",
            f"'ts' {value!r:.60} is outside [{times.since}, 2100-01-01) UTC "
            f"({unit[times.unit]} or an ISO 8601 string)",
        )
    return ts


def _iso_seconds(text: str) -> float:
    bad = RecordError(
        "bad_timestamp",
        f"'ts' {text!r:.60} is not epoch seconds, epoch milliseconds or an RFC 3339 / "
        "ISO 8601 date-time",
    )
    if not text or len(text) > MAX_TS_CHARS or not text[0].isdigit():
        raise bad
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_item(obj: object) -> ItemRecord:
    """Validate one decoded JSON item value and build its record."""
    m = _require_map(obj, "item")
    item_id = _required_id(m, "item_id")
    title = _text(m, "title", MAX_TITLE_CHARS)
    if not title:
        raise RecordError("missing_field", "'title' is required and non-empty")
    tags_raw = m.get("tags", [])
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        raise RecordError("bad_type", "'tags' must be a list of strings")
    if len(tags_raw) > MAX_TAGS:
        raise RecordError("too_long", f"'tags' has {len(tags_raw)} entries, limit {MAX_TAGS}")
    for tag in tags_raw:
        _check_str(tag, "tags")
    modalities: dict[str, tuple[float, ...]] = {}
    for name, vec in _require_map(m.get("modalities", {}), "'modalities'").items():
        _check_str(str(name), "modalities")
        if not isinstance(vec, list) or not 0 < len(vec) <= MAX_MODALITY_DIM:
            raise RecordError(
                "bad_type", f"modality '{name}' must be a list of 1..{MAX_MODALITY_DIM}"
            )
        modalities[name] = tuple(_number(x, f"modalities.{name}") for x in vec)
    if len(modalities) > MAX_MODALITIES:
        raise RecordError("too_long", f"{len(modalities)} modalities, limit {MAX_MODALITIES}")
    attrs_raw = _require_map(m.get("attributes", {}), "'attributes'")
    if len(attrs_raw) > MAX_ATTRIBUTES:
        raise RecordError("too_long", f"{len(attrs_raw)} attributes, limit {MAX_ATTRIBUTES}")
    attributes = {
        _check_str(str(k), "attributes"): _number(v, "attributes") for k, v in attrs_raw.items()
    }
    return ItemRecord(
        item_id=item_id,
        title=title,
        description=_text(m, "description", MAX_TEXT_CHARS) or "",
        category=_text(m, "category", MAX_TITLE_CHARS) or "",
        tags=tuple(tags_raw),
        modalities=MappingProxyType(modalities),
        attributes=MappingProxyType(attributes),
    )


def parse_event(obj: object, times: TimeRule = DEFAULT_TIMES) -> BehaviourEvent:
    """Validate one decoded JSON behaviour event and build its record (``ts`` read by ``times``).

    Whether ``item_id`` names a known item is the caller's question (it needs the catalog).
    """
    m = _require_map(obj, "event")
    event_id = _required_id(m, "event_id")
    user_id = _required_id(m, "user_id")
    if "ts" not in m:
        raise RecordError("missing_field", "'ts' is required")
    ts = parse_ts(m["ts"], times)
    action = m.get("action")
    if not isinstance(action, str):
        raise RecordError("missing_field", "'action' is required and a string")
    if action not in ACTIONS:
        raise RecordError("unknown_action", f"action {action[:40]!r} is not one of {ACTIONS}")
    item_id = _optional_id(m, "item_id")
    text = _text(m, "text", MAX_TEXT_CHARS)
    if item_id is None and not text:
        raise RecordError("missing_field", "an event needs 'item_id' or 'text'")
    value = None if m.get("value") is None else _number(m["value"], "value")
    context = _require_map(m.get("context", {}), "'context'")
    if len(context) > MAX_CONTEXT_KEYS:
        raise RecordError(
            "too_long", f"'context' has {len(context)} keys, limit {MAX_CONTEXT_KEYS}"
        )
    _check_json(context, "context")
    return BehaviourEvent(
        event_id=event_id,
        user_id=user_id,
        ts=ts,
        action=action,
        item_id=item_id,
        text=text,
        value=value,
        context=MappingProxyType(dict(context)),
    )
