"""JSON Schemas (draft 2020-12) of every topic value, built from the codec's own limits.

The checked-in ``schemas/*.json`` are this module's output (``driftrec schemas``), and a unit test
keeps them equal, so a limit changed in :mod:`streams.messages.records` changes the schema too.
The schemas describe a parsed JSON document; what JSON Schema cannot say (the byte size of a
message, its key, lone surrogates, integers of more than 100 digits, nesting depth, the exact
instant of a ``ts`` string) is listed in docs/contracts.md, "What the schemas do not check".
"""

from __future__ import annotations

import json
from typing import Any, Final

from streams.messages.codec import DLQ_KEEP_BYTES
from streams.messages.records import (
    ACTIONS,
    MAX_ATTRIBUTES,
    MAX_CONTEXT_KEYS,
    MAX_ID_CHARS,
    MAX_MODALITIES,
    MAX_MODALITY_DIM,
    MAX_TAGS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    MAX_TS,
    MAX_TS_CHARS,
    MIN_TS,
)

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
#: Base of the ``$id`` of each schema (a name, resolved by no one: the files are in the repo).
ID_BASE: Final = "https://driftrec.invalid/schemas/"
#: Triggers of a recommendation list (profiles.policy.TRIGGERS; a test keeps them equal: the
#: message layer imports nothing from ``profiles``).
TRIGGERS: Final = ("cold_start", "drift", "refresh", "request")
#: Largest finite float: a number beyond it is read as infinity by most parsers.
FLOAT_MAX: Final = 1.7976931348623157e308

_FINITE: Final[dict[str, Any]] = {
    "type": "number",
    "minimum": -FLOAT_MAX,
    "maximum": FLOAT_MAX,
}
_ID: Final[dict[str, Any]] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ID_CHARS,
    # non-empty after stripping whitespace
    "pattern": "\\S",
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _doc(name: str, title: str, description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": f"{ID_BASE}{name}.json",
        "title": title,
        "description": description,
        **body,
    }


def _ts() -> dict[str, Any]:
    year_from, year_to = 2000, 2100
    return {
        "description": (
            f"Event time in [{year_from}-01-01, {year_to}-01-01) UTC: epoch seconds, epoch "
            "milliseconds (a number >= 1e11) or an RFC 3339 / ISO 8601 string (UTC when it has "
            "no offset). These are the defaults; DRIFTREC_TS_MIN and DRIFTREC_TS_UNIT change "
            "what the worker accepts (docs/contracts.md#historical-data-before-2000)."
        ),
        "anyOf": [
            {"type": "number", "minimum": MIN_TS, "exclusiveMaximum": MAX_TS},
            {"type": "number", "minimum": MIN_TS * 1000, "exclusiveMaximum": MAX_TS * 1000},
            {"type": "string", "maxLength": MAX_TS_CHARS, "pattern": "^20[0-9]{2}"},
        ],
    }


def event_schema() -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["event_id", "user_id", "ts", "action"],
        "properties": {
            "event_id": {**_ID, "description": "Unique per user; repeats are skipped."},
            "user_id": {**_ID, "description": "Equals the message key."},
            "ts": _ts(),
            "action": {"enum": list(ACTIONS)},
            "item_id": _nullable(_ID),
            "text": _nullable({"type": "string", "maxLength": MAX_TEXT_CHARS}),
            "value": _nullable(_FINITE),
            "context": {
                "type": "object",
                "maxProperties": MAX_CONTEXT_KEYS,
                "additionalProperties": {"$ref": "#/$defs/finite_json"},
                "description": "Carried, not interpreted.",
            },
        },
        "anyOf": [
            {"required": ["item_id"], "properties": {"item_id": {"type": "string"}}},
            {"required": ["text"], "properties": {"text": {"type": "string", "minLength": 1}}},
        ],
        "$defs": {
            "finite_json": {
                "description": "Any JSON value whose numbers are finite.",
                "if": {"type": "number"},
                "then": _FINITE,
                "items": {"$ref": "#/$defs/finite_json"},
                "additionalProperties": {"$ref": "#/$defs/finite_json"},
            }
        },
    }
    return _doc(
        "event",
        "driftrec behaviour event",
        "Value of the behaviour-events topic (key: user_id) and a line of events.jsonl. "
        "Fields not listed are ignored.",
        body,
    )


def item_schema() -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["item_id", "title"],
        "properties": {
            "item_id": {**_ID, "description": "Equals the message key."},
            "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS},
            "description": _nullable({"type": "string", "maxLength": MAX_TEXT_CHARS}),
            "category": _nullable({"type": "string", "maxLength": MAX_TITLE_CHARS}),
            "tags": {"type": "array", "maxItems": MAX_TAGS, "items": {"type": "string"}},
            "attributes": {
                "type": "object",
                "maxProperties": MAX_ATTRIBUTES,
                "additionalProperties": _FINITE,
            },
            "modalities": {
                "type": "object",
                "maxProperties": MAX_MODALITIES,
                "additionalProperties": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_MODALITY_DIM,
                    "items": _FINITE,
                },
            },
        },
    }
    return _doc(
        "item",
        "driftrec catalog item",
        "Value of the compacted items topic (key: item_id; a null value deletes the item) and "
        "a line of items.jsonl. Fields not listed are ignored.",
        body,
    )


def recommendation_list_schema() -> dict[str, Any]:
    because = {
        "type": "object",
        "required": ["event_id", "item_id", "action"],
        "additionalProperties": False,
        "properties": {
            "event_id": {"type": "string"},
            "item_id": {"type": "string"},
            "action": {"enum": list(ACTIONS)},
        },
    }
    entry = {
        "type": "object",
        "required": ["item_id", "score", "because"],
        "additionalProperties": False,
        "properties": {
            "item_id": {"type": "string"},
            "score": {"type": "number"},
            "because": _nullable(because),
        },
    }
    body = {
        "type": "object",
        "required": [
            "user_id",
            "items",
            "trigger",
            "drift",
            "model_version",
            "event_id",
            "event_ts",
            "published_ts",
        ],
        "additionalProperties": False,
        "properties": {
            "user_id": {"type": "string"},
            "items": {"type": "array", "items": entry, "description": "Best first."},
            "trigger": {"enum": list(TRIGGERS)},
            "drift": {"type": "number"},
            "model_version": {"type": "string"},
            "event_id": _nullable({"type": "string"}),
            "event_ts": _nullable({"type": "number"}),
            "published_ts": {"type": "number"},
        },
    }
    return _doc(
        "recommendation-list",
        "driftrec recommendation list",
        "Value of the recommendations topic (key: user_id; a null value: the user was "
        "forgotten) and the body of GET /users/{user_id}/recommendations. At least once: drop "
        "repeats by event_id.",
        body,
    )


def dead_letter_schema() -> dict[str, Any]:
    b64 = {"type": "string", "pattern": "^[A-Za-z0-9+/]*={0,2}$"}
    body = {
        "type": "object",
        "required": [
            "reason",
            "error",
            "topic",
            "partition",
            "offset",
            "key_b64",
            "value_b64",
            "value_bytes",
            "value_truncated",
            "dead_lettered_ts",
        ],
        "additionalProperties": False,
        "properties": {
            "reason": {"type": "string", "pattern": "^[a-z0-9_]+$"},
            "error": {"type": "string", "maxLength": 500},
            "topic": {"type": "string"},
            "partition": {"type": "integer"},
            "offset": {"type": "integer", "minimum": -1},
            "key_b64": _nullable({**b64, "maxLength": 4 * ((1024 + 2) // 3)}),
            "value_b64": _nullable({**b64, "maxLength": 4 * ((DLQ_KEEP_BYTES + 2) // 3)}),
            "value_bytes": _nullable({"type": "integer", "minimum": 0}),
            "value_truncated": {"type": "boolean"},
            "dead_lettered_ts": {"type": "number"},
        },
    }
    return _doc(
        "dead-letter",
        "driftrec dead-letter record",
        "Value of <topic>-dlq (key: the original key): why a message was refused, with its "
        "bytes in base64.",
        body,
    )


def forget_request_schema() -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["forget"],
        "properties": {
            "forget": {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
            "requested_ts": {"type": "number"},
        },
    }
    return _doc(
        "forget-request",
        "driftrec forget request",
        "A control record on the behaviour-events topic: key the user_id, header "
        "driftrec-control: forget.",
        body,
    )


#: File name (without .json) -> its schema builder.
SCHEMAS: Final = {
    "event": event_schema,
    "item": item_schema,
    "recommendation-list": recommendation_list_schema,
    "dead-letter": dead_letter_schema,
    "forget-request": forget_request_schema,
}


def render(name: str) -> str:
    """The text of ``schemas/<name>.json``."""
    return json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False) + "\n"
