"""Placement (streams.worker.placement): misplaced and keyless records are forwarded to their user's
partition with their original position; everything else goes on to the handler."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from streams.settings import Settings
from streams.worker.control import HEADER, forget_record
from streams.worker.placement import PLACED_HEADER, Placement, origin, user_partition

S = Settings(partitions=4)


@dataclass
class Msg:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp: float = 1.75e9


@dataclass
class Ev:
    message: Msg
    value: bytes | None


def event(user: str, n: int) -> bytes:
    return json.dumps(
        {
            "event_id": f"{user}-{n}",
            "user_id": user,
            "ts": 1.75e9 + n,
            "action": "view",
            "item_id": "i",
        }
    ).encode()


def on(partition: int, offset: int, key: bytes | None, value: bytes | None, **kw: Any) -> Ev:
    return Ev(Msg("events", partition, offset, key, **kw), value)


def test_user_partition_is_kafkas_default_partitioner() -> None:
    for user in ("u1", "mixed-1", "Zoë", "13429"):
        want = DefaultPartitioner()(user.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
        assert user_partition(user, 4) == want


def run(events: list[Ev]) -> tuple[list[Any], list[tuple[Any, ...]], list[str]]:
    handled: list[Any] = []
    forwarded: list[tuple[Any, ...]] = []
    reasons: list[str] = []

    async def handle(batch: Any) -> None:
        handled.extend(batch)

    async def forward(*args: Any) -> None:
        forwarded.append(args)

    asyncio.run(Placement(S, handle, forward, reasons.append)(events))
    return handled, forwarded, reasons


def test_misplaced_keyless_and_forget_records_are_forwarded() -> None:
    user = "u1"
    home = user_partition(user, 4)
    away = (home + 1) % 4
    key, value, headers = forget_record(user, now=1.0)
    good = on(home, 0, user.encode(), event(user, 0))
    keyless_home = on(home, 1, None, event(user, 1))
    misplaced = on(away, 7, user.encode(), event(user, 2))
    keyless = on(away, 8, None, event(user, 3))
    forget = on(away, 9, key, value, headers=headers)
    bad = on(away, 10, b"u1", b"{not json")
    handled, forwarded, reasons = run([good, keyless_home, misplaced, keyless, forget, bad])
    assert handled == [good, keyless_home, bad]  # bad: dead-lettered by the handler
    assert reasons == ["misplaced", "keyless", "misplaced"]
    assert [(p, k, v) for p, k, v, _, _ in forwarded] == [
        (home, b"u1", event(user, 2)),
        (home, b"u1", event(user, 3)),
        (home, key, value),
    ]
    assert forwarded[2][4] == [(HEADER, b"forget"), (PLACED_HEADER, f"{away}:9".encode())]
    assert all(ts == 1.75e9 for *_, ts, _ in forwarded)


def test_origin_of_a_copy_is_the_original_position() -> None:
    copy = Msg("events", 2, 50, b"u", headers=[(PLACED_HEADER, b"3:17")])
    assert origin(copy) == ("events:3", 17)
    assert origin(Msg("events", 2, 50, b"u")) == ("events:2", 50)
    for bad in (b"x", b"3", b"-1:2", b"\xff:1"):
        assert origin(Msg("events", 2, 50, b"u", headers=[(PLACED_HEADER, bad)])) == (
            "events:2",
            50,
        )


def test_a_failed_forward_is_retried() -> None:
    calls: list[int] = []

    async def flaky(*args: Any) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("broker hiccup")

    async def handle(batch: Any) -> None:
        return None

    user = "u1"
    away = (user_partition(user, 4) + 1) % 4
    placement = Placement(S, handle, flaky, backoff_s=0.0)
    asyncio.run(placement([on(away, 0, b"u1", event(user, 0))]))
    assert len(calls) == 3
