"""schemas/*.json: generated from the codec's limits, and as strict as the codec where JSON Schema
can say it (the differences are listed in docs/contracts.md and pinned here)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from profiles.engine import RecList
from profiles.policy import TRIGGERS
from profiles.retrieval import Because, Scored
from streams.cli.main import cli
from streams.cli.schemas import rendered
from streams.messages.codec import dead_letter, decode_event, decode_item
from streams.messages.records import RecordError
from streams.messages.schemas import SCHEMAS, render
from streams.messages.schemas import TRIGGERS as SCHEMA_TRIGGERS
from streams.settings import PROJECT_ROOT
from streams.worker.control import forget_record
from tests.fuzzcorpus import bad_messages

FOLDER = PROJECT_ROOT / "schemas"
SAMPLE = PROJECT_ROOT / "encoders" / "samples" / "online_retail"
MAX_BYTES = 64 * 1024
#: Codec reasons the schema cannot express (docs/contracts.md, "What the schemas do not check").
NOT_IN_SCHEMA = {"bad_text", "key_mismatch", "too_large", "bad_number", "not_json"}


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def schema_accepts(v: Draft202012Validator, raw: bytes) -> bool:
    """What a producer in another language sees: an RFC 8259 parser, then the schema."""
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return False
    return v.is_valid(doc)


def test_checked_in_schemas_are_the_generated_ones() -> None:
    files = rendered()
    assert sorted(p.name for p in FOLDER.glob("*.json")) == sorted(files)
    assert set(files) == {f"{name}.json" for name in SCHEMAS} | {"openapi.json"}
    for name, text in files.items():
        assert (FOLDER / name).read_text(encoding="utf-8") == text, (
            f"schemas/{name} is out of date: run `driftrec schemas schemas`"
        )
    for name in SCHEMAS:
        assert render(name) == json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False) + "\n"
        validator(name)


def test_cli_writes_the_schemas(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schemas", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name, text in rendered().items():
        assert (tmp_path / name).read_text(encoding="utf-8") == text


def test_triggers_match_the_policy() -> None:
    assert tuple(SCHEMA_TRIGGERS) == TRIGGERS


def test_every_corpus_record_the_codec_rejects_the_schema_rejects_or_is_documented() -> None:
    v = validator("event")
    both: Counter[str] = Counter()
    codec_only: Counter[str] = Counter()
    accepted = 0
    for msg in bad_messages(1_400, _good_event, seed=11):
        by_schema = schema_accepts(v, msg.value)
        try:
            decode_event(msg.value, msg.key, max_bytes=MAX_BYTES)
        except RecordError as exc:
            (codec_only if by_schema else both)[exc.reason] += 1
        else:
            assert by_schema, msg  # the codec accepts it: so must the schema
            accepted += 1
    assert accepted > 0 and sum(both.values()) > 1_000, both
    # What the schema lets through is only what it cannot express, each documented.
    # In this corpus only lone surrogates get past the schema (pinned, so the doc stays true).
    assert set(codec_only) == {"bad_text"} and set(codec_only) <= NOT_IN_SCHEMA, codec_only
    doc = (PROJECT_ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    section = doc.split("## What the schemas do not check", 1)[1].split("\n## ", 1)[0]
    for reason in NOT_IN_SCHEMA:
        assert f"`{reason}`" in section, reason


def _good_event(i: int) -> dict[str, Any]:
    return {
        "event_id": f"g{i}",
        "user_id": f"u{i % 50}",
        "ts": [1_300_000_000.0 + i, 1_300_000_000_000 + i, "2011-03-13T07:06:40Z"][i % 3],
        "action": "click",
        "item_id": "i1",
        "context": {"device": "web", "n": [1, 2.5, None, {"deep": True}]},
    }


@pytest.mark.parametrize(
    ("name", "decode", "file"),
    [("event", decode_event, "events.jsonl"), ("item", decode_item, "items.jsonl")],
)
def test_every_shipped_record_validates(name: str, decode: Any, file: str) -> None:
    v = validator(name)
    lines = (SAMPLE / file).read_bytes().splitlines()
    assert len(lines) > 1_000
    for raw in lines:
        decode(raw, None, max_bytes=MAX_BYTES)  # the codec accepts every one ...
        errors = [e.message for e in v.iter_errors(json.loads(raw))]
        assert not errors, (raw[:200], errors)  # ... and so does the schema


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (
            {"event_id": "e", "user_id": "u", "ts": 946_684_799, "action": "view", "item_id": "i"},
            "ts",
        ),
        ({"event_id": "e", "user_id": "u", "ts": 1e12, "action": "fly", "item_id": "i"}, "action"),
        (
            {"event_id": " ", "user_id": "u", "ts": 1e12, "action": "view", "item_id": "i"},
            "event_id",
        ),
        (
            {"event_id": "e", "user_id": "u", "ts": 1e12, "action": "view", "text": ""},
            "item_id/text",
        ),
        (
            {
                "event_id": "e",
                "user_id": "u",
                "ts": 1e12,
                "action": "view",
                "item_id": "i",
                "value": 10**400,
            },
            "value",
        ),
    ],
)
def test_schema_and_codec_reject_the_same_event(doc: dict[str, Any], field: str) -> None:
    raw = json.dumps(doc).encode()
    with pytest.raises(RecordError):
        decode_event(raw, None, max_bytes=MAX_BYTES)
    assert not schema_accepts(validator("event"), raw), field


def test_item_limits() -> None:
    v = validator("item")
    ok = {"item_id": "i", "title": "t", "modalities": {"image": [0.1, 2]}, "attributes": {"p": 1}}
    assert v.is_valid(ok)
    decode_item(json.dumps(ok).encode(), b"i", max_bytes=MAX_BYTES)
    for bad in (
        {**ok, "title": ""},
        {**ok, "tags": ["x"] * 33},
        {**ok, "modalities": {"image": []}},
        {**ok, "attributes": {"p": "cheap"}},
        {**ok, "tags": None},
    ):
        assert not v.is_valid(bad), bad
        with pytest.raises(RecordError):
            decode_item(json.dumps(bad).encode(), b"i", max_bytes=MAX_BYTES)


def test_what_driftrec_writes_validates() -> None:
    dlq = json.loads(
        dead_letter(
            reason="bad_timestamp",
            error="bad_timestamp: \udfff",
            topic="behaviour-events",
            partition=2,
            offset=4711,
            key=b"u1",
            value=b"x" * 600_000,
        )
    )
    assert validator("dead-letter").is_valid(dlq) and dlq["value_truncated"]
    none = json.loads(
        dead_letter(
            reason="empty", error="e", topic="t", partition=0, offset=-1, key=None, value=None
        )
    )
    assert validator("dead-letter").is_valid(none)
    rec = RecList(
        user_id="u1",
        items=[Scored("i2", 0.5, Because("e1", "i1", "view")), Scored("i3", 0.25, None)],
        trigger="drift",
        drift=0.3,
        model_version="m-1",
        event_id="e1",
        event_ts=1.7e9,
        ref=0,
    )
    assert validator("recommendation-list").is_valid(rec.to_json(published_ts=1.7e9))
    assert not validator("recommendation-list").is_valid({**rec.to_json(1.0), "trigger": "x"})
    key, value, _ = forget_record("u1", now=1.7e9)
    assert key == b"u1" and validator("forget-request").is_valid(json.loads(value))
