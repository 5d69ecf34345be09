"""Control records on the behaviour topic: ``driftrec forget USER``.

A forget request is a record on the *behaviour-events* topic, keyed by the user, marked by the
header ``driftrec-control: forget``, with the JSON value ``{"forget": USER, "requested_ts": T}``.
Riding on the user's own partition is the point: it is ordered after every earlier event of the
user and handled by the worker that owns the user's profile, so an event produced before the
request can never re-create the profile after it (a separate control topic would be consumed
independently and could overtake them). Events of the user produced later start a new profile.

The worker, in order: publishes a tombstone (null value) for the user on the recommendations topic
and waits for the broker's acknowledgement, then deletes the profile from the table, which writes
a tombstone to the table's changelog (standby replicas and future owners drop the user too). A
crash in between replays the request: both steps are idempotent.

A record with the header but a bad value goes to the DLQ with reason ``bad_control``; records
without the header are ordinary events and go through :func:`streams.messages.codec.decode_event`.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from streams.faustcompat.eventctx import as_current
from streams.messages.codec import dead_letter, encode_json
from streams.messages.records import MAX_ID_CHARS
from streams.settings import Settings

log = logging.getLogger(__name__)

HEADER: Final = "driftrec-control"
FORGET: Final = b"forget"
BAD_CONTROL: Final = "bad_control"
Send = Callable[[str, bytes, bytes | None], Awaitable[Any]]
Handle = Callable[[Sequence[Any]], Awaitable[Any]]


class ControlError(ValueError):
    """A control record that cannot be carried out (the message says why)."""


Headers = list[tuple[str, bytes]]


def forget_record(user_id: str, now: float | None = None) -> tuple[bytes, bytes, Headers]:
    """(key, value, headers) of a forget request for ``user_id``."""
    if not user_id.strip() or len(user_id) > MAX_ID_CHARS:
        raise ControlError(f"user id must be 1..{MAX_ID_CHARS} characters, got {len(user_id)}")
    value = encode_json({"forget": user_id, "requested_ts": time.time() if now is None else now})
    return user_id.encode(), value, [(HEADER, FORGET)]


def control_kind(headers: Any) -> bytes | None:
    """The value of the control header of a message (None for ordinary events)."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, dict) else headers
    for name, value in pairs:
        if name == HEADER:
            return bytes(value) if value is not None else b""
    return None


def parse_forget(key: bytes | None, value: bytes | None) -> str:
    """The user a forget request names; its key must be that user (it decides the partition)."""
    try:
        obj = json.loads(value or b"")
    except (ValueError, RecursionError) as exc:
        raise ControlError("forget request value is not JSON") from exc
    user = obj.get("forget") if isinstance(obj, dict) else None
    if not isinstance(user, str) or not user or len(user) > MAX_ID_CHARS:
        raise ControlError("forget request must name the user as {'forget': USER_ID}")
    if key != user.encode():
        raise ControlError(f"forget request key {key!r:.60} is not the user {user!r:.60}")
    return user


@dataclass
class ControlledBatch:
    """Wraps the events batch handler: control records split a batch where they occur."""

    settings: Settings
    handle: Handle
    table: MutableMapping[Any, Any]
    send: Send
    on_forget: Callable[[str], None] = lambda user: None

    async def __call__(self, events: Sequence[Any]) -> None:
        segment: list[Any] = []
        for ev in events:
            kind = control_kind(getattr(ev.message, "headers", None))
            if kind is None:
                segment.append(ev)
                continue
            if segment:
                await self.handle(segment)
                segment = []
            await self._control(ev, kind)
        if segment:
            await self.handle(segment)

    async def _control(self, ev: Any, kind: bytes) -> None:
        msg = ev.message
        try:
            if kind != FORGET:
                raise ControlError(f"unknown control {kind!r:.40}")
            user = parse_forget(msg.key, ev.value)
        except ControlError as exc:
            record = dead_letter(
                reason=BAD_CONTROL,
                error=str(exc),
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                key=msg.key,
                value=ev.value,
            )
            await self.send(self.settings.dlq_topic(msg.topic), msg.key or b"", record)
            where = f"{msg.topic}[{msg.partition}]@{msg.offset}"
            log.warning("bad control record at %s: %s", where, exc)
            return
        await self.forget(ev, user)

    async def forget(self, ev: Any, user: str) -> None:
        """Tombstone on the recommendations topic (acknowledged), then the table delete."""
        key = user.encode()
        sent = await self.send(self.settings.recommendations_topic, key, None)
        if inspect.isawaitable(sent):
            await sent
        with as_current(ev):
            had = key in self.table
            if had:
                del self.table[key]
        self.on_forget(user)
        msg = ev.message
        log.info(
            "forgot user %r (%s) at %s[%d]@%d: profile deleted (changelog tombstone), "
            "tombstone published on %s",
            user,
            "had a profile" if had else "no profile held",
            msg.topic,
            msg.partition,
            msg.offset,
            self.settings.recommendations_topic,
        )
