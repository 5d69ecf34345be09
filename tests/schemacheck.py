"""Validate a topic value against its checked-in JSON Schema (schemas/*.json) with jsonschema."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from streams.settings import PROJECT_ROOT


@cache
def validator(name: str) -> Draft202012Validator:
    path = PROJECT_ROOT / "schemas" / f"{name}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_valid(name: str, doc: Any) -> None:
    """Fail with every schema error of ``doc`` (a parsed JSON value)."""
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(name).iter_errors(doc)
    ]
    assert not errors, (name, errors, str(doc)[:300])
