"""A recommendation list's JSON value as bytes, written directly (the model thread's hot path).

:func:`list_json_bytes` equals ``streams.messages.codec.encode_json(rec.to_json(published_ts))``
byte for byte (tested): the same keys in the same order, compact separators, non-ASCII kept,
floats as ``repr`` writes them, NaN and infinities refused. It builds no dict per item and writes
each ``because`` once per recent event of the list rather than once per item; a list holds K
items and the worker encodes one per published list. A value it does not expect (a number that is
not a float, a text that is not a str) sends the list through ``encode_json`` instead.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring  # the escaper of json.dumps(..., ensure_ascii=False)
from typing import TYPE_CHECKING

from streams.messages.codec import encode_json

if TYPE_CHECKING:
    from profiles.engine import RecList


class _Unexpected(Exception):
    """A value outside the direct path's types: encode through ``encode_json``."""


def _text(value: object) -> str:
    if type(value) is not str:
        raise _Unexpected
    out: str = encode_basestring(value)
    return out


def _number(value: object) -> str:
    if type(value) is not float or not math.isfinite(value):
        raise _Unexpected  # ints, numpy scalars, NaN (refused by encode_json): the slow path
    return float.__repr__(value)


def list_json_bytes(rec: RecList, published_ts: float) -> bytes:
    """``encode_json(rec.to_json(published_ts))``, without building the dicts."""
    try:
        return _direct(rec, published_ts).encode()
    except _Unexpected:
        return encode_json(rec.to_json(published_ts))


def _direct(rec: RecList, published_ts: float) -> str:
    because: dict[int, str] = {}  # id(Because) -> its JSON: items of a list share them
    items = []
    for s in rec.items:
        b = s.because
        if b is None:
            why = "null"
        else:
            cached = because.get(id(b))
            if cached is None:
                cached = (
                    f'{{"event_id":{_text(b.event_id)},"item_id":{_text(b.item_id)},'
                    f'"action":{_text(b.action)}}}'
                )
                because[id(b)] = cached
            why = cached
        score = s.score
        if type(score) is not float:
            raise _Unexpected
        items.append(
            f'{{"item_id":{_text(s.item_id)},"score":{_number(round(score, 6))},"because":{why}}}'
        )
    drift = rec.drift
    if type(drift) is not float:
        raise _Unexpected
    event_id = "null" if rec.event_id is None else _text(rec.event_id)
    event_ts = "null" if rec.event_ts is None else _number(rec.event_ts)
    return (
        f'{{"user_id":{_text(rec.user_id)},"items":[{",".join(items)}],'
        f'"trigger":{_text(rec.trigger)},"drift":{_number(round(drift, 6))},'
        f'"model_version":{_text(rec.model_version)},"event_id":{event_id},'
        f'"event_ts":{event_ts},"published_ts":{_number(published_ts)}}}'
    )
