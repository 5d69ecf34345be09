"""What each ``DRIFTREC_*`` variable accepts, in words, and docs/configuration.md made from it.

The Settings object is the one source: its fields, types, bounds, defaults and descriptions. The
same wording serves the generated reference and the one-line error for a bad value, so the two
cannot disagree. ``driftrec config docs`` prints the reference; a unit test fails when the
committed docs/configuration.md differs from it.
"""

from __future__ import annotations

import types
import typing
from datetime import date
from pathlib import Path
from typing import Any, Literal, Union

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from streams.settings import Settings

ENV_PREFIX = "DRIFTREC_"

_HEADER = """\
# Configuration

Every setting of driftrec lives in one typed object, `Settings` in `streams/settings.py`, read
from environment variables with the prefix `DRIFTREC_` (a command-line option that has a variable
names it in its `--help` and wins over it).

This file is generated from that object by `driftrec config docs > docs/configuration.md`; a unit
test fails when it is out of date.

| variable | default | accepts | meaning |
|---|---|---|---|
"""


def env_name(field: str) -> str:
    """The environment variable of a Settings field."""
    return ENV_PREFIX + field.upper()


def _bounds(info: FieldInfo) -> str:
    low = high = ""
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            low = f">= {meta.ge}"
        elif isinstance(meta, annotated_types.Gt):
            low = f"> {meta.gt}"
        elif isinstance(meta, annotated_types.Le):
            high = f"<= {meta.le}"
        elif isinstance(meta, annotated_types.Lt):
            high = f"< {meta.lt}"
    return ", ".join(b for b in (low, high) if b)


def _describe_type(tp: Any) -> tuple[str, bool]:
    """Words for a type, and whether it may be left unset."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        words = " or ".join(_describe_type(a)[0] for a in args)
        return words, optional
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(tp)), False
    names = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "text",
        Path: "a path",
        date: "a date (YYYY-MM-DD)",
        SecretStr: "text (secret)",
    }
    return names.get(tp, getattr(tp, "__name__", str(tp))), False


def accepted(field: str) -> str:
    """What the variable of ``field`` accepts, e.g. ``an integer >= 1, <= 1024``."""
    info = Settings.model_fields[field]
    words, optional = _describe_type(info.annotation)
    bounds = _bounds(info)
    if bounds:
        words = f"{words} {bounds}"
    if optional:
        words += "; unset for the default"
    return words


def _default(info: FieldInfo) -> str:
    value = info.default
    if value is None:
        return "unset"
    if isinstance(value, Path):
        home = Path.home()
        shown = f"~/{value.relative_to(home)}" if value.is_relative_to(home) else str(value)
        return f"`{shown}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_configuration() -> str:
    """The whole docs/configuration.md."""
    rows = [
        f"| `{env_name(name)}` | {_default(info)} | {_cell(accepted(name))} "
        f"| {_cell(info.description or '')} |"
        for name, info in Settings.model_fields.items()
    ]
    return _HEADER + "\n".join(rows) + "\n"
