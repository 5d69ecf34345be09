"""Agent logic through Faust's test_context (no broker): items and behaviour agents."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeModel, catalog

Sent = list[tuple[str, bytes, bytes | None]]


@pytest.fixture(scope="module")
def faust_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A worker built by the factory with its state in a temporary folder and a fake model."""
    from prometheus_client import CollectorRegistry

    from streams.settings import Settings
    from streams.worker.factory import create_app

    folder = tmp_path_factory.mktemp("app")
    settings = Settings(
        data_dir=folder / "data",
        home=folder / "home",
        # No consumer here to hold events for (streams.worker.agents.waiting): an unknown item is
        # given up at once, as it was before the hold existed.
        item_wait_s=0,
    )
    worker = create_app(settings, registry=CollectorRegistry(), loader=lambda s: FakeModel())
    worker.runtime.catalog_changed([(i.item_id, i) for i in catalog({"tea": 6, "garden": 6})])
    yield worker
    # Faust's loop and the consumer thread's loop (made when app.consumer is first touched) are
    # never run to completion here; close them, or they warn (ResourceWarning) at exit.
    for obj in gc.get_objects():
        if issubclass(type(obj), asyncio.AbstractEventLoop) and not obj.is_running():
            obj.close()


def run(app: Any, coro_fn: Callable[[], Awaitable[None]]) -> None:
    # On the app's own loop: Faust's services are bound to it.
    app.loop.run_until_complete(coro_fn())


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never happened: {what}")


def event(k: int, user: str = "u1", item: str | None = "tea-0", **extra: object) -> bytes:
    body = {"event_id": f"{user}-{k}", "user_id": user, "ts": 1.75e9 + k, "action": "click"}
    if item is not None:
        body["item_id"] = item
    return json.dumps({**body, **extra}).encode()


@pytest.fixture
def sent(faust_app: Any, monkeypatch: pytest.MonkeyPatch) -> Sent:
    out: Sent = []

    async def fake_send(topic: str, key: bytes, value: bytes | None) -> None:
        out.append((topic, key, value))

    monkeypatch.setattr(faust_app.parts["handle_batch"], "send", fake_send)
    return out


def test_behaviour_agent_publishes_writes_and_dead_letters(faust_app: Any, sent: Sent) -> None:
    from profiles.profile import UserProfile

    behaviour = faust_app.parts["behaviour"]
    s = faust_app.settings

    async def go() -> None:
        async with behaviour.test_context() as agent:
            for k in range(3):
                await agent.put(event(k, item=f"tea-{k}"), key=b"u1")
            await agent.put(b"\xff garbage", key=b"u1")
            await agent.put(event(9, item="unknown"), key=b"u1")
            await agent.put(event(1, item="tea-1"), key=b"u1")  # the same event produced again
            await until(lambda: len(sent) >= 3, "a list and two dead letters")

    run(faust_app.app, go)
    lists = [json.loads(v) for t, _, v in sent if t == s.recommendations_topic and v]
    dlq = [json.loads(v) for t, _, v in sent if t == s.dlq_topic(s.events_topic) and v]
    assert lists[0]["trigger"] == "cold_start" and lists[0]["event_id"] == "u1-0"
    assert {i["item_id"] for i in lists[0]["items"]}.isdisjoint({"tea-0"})
    assert sorted(d["reason"] for d in dlq) == ["not_utf8", "unknown_item"]
    profile = UserProfile.from_bytes(faust_app.profiles.get(b"u1"))
    assert profile.events_applied == 3 and profile.last_event_id == "u1-2"
    assert faust_app.metrics.events_skipped._value.get() >= 1


def test_items_agent_validates_stores_and_deletes(
    faust_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = faust_app.parts["items"]
    dead: list[bytes] = []

    async def fake_dlq_send(*, key: bytes, value: bytes) -> None:
        dead.append(value)

    monkeypatch.setattr(faust_app.items_dlq, "send", fake_dlq_send)
    runtime = faust_app.runtime

    async def go() -> None:
        async with items.test_context() as agent:
            good = {"item_id": "new-1", "title": "Watering can", "category": "garden"}
            await agent.put(json.dumps(good).encode(), key=b"new-1")
            await agent.put(b'{"item_id": "new-2"}', key=b"new-2")  # no title
            await until(lambda: bool(dead), "a dead letter")
            assert faust_app.catalog.get(b"new-1") is not None
            assert runtime._pending.get("new-1") is not None or "new-1" in runtime.engine.index
            await agent.put(None, key=b"new-1")
            await until(lambda: faust_app.catalog.get(b"new-1") is None, "the delete")

    run(faust_app.app, go)
    assert json.loads(dead[0])["reason"] == "missing_field"
    assert runtime._pending.get("new-1", "absent") in (None, "absent")


def test_app_declares_rocksdb_tables_and_localhost_web(faust_app: Any) -> None:
    from streams.faustcompat.localstate import STORE_URL

    app = faust_app.app
    # RocksDB (driftrec's checked subclass of Faust's store), never Faust's in-memory default.
    assert str(app.conf.store) == STORE_URL.removesuffix("//")
    for table in (faust_app.profiles, faust_app.catalog):
        assert str(table._store) == STORE_URL.removesuffix("//")
    assert app.conf.web_bind == "127.0.0.1"
    assert app.conf.processing_guarantee.value == "at_least_once"
    assert Path(str(app.conf.datadir)).name == "data"  # the fixture's folder, not the default
