"""Agent logic through Faust's test_context (no broker): items and behaviour agents."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

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


def test_behaviour_agent_publishes_writes_and_dead_letters(
    faust_app: Any, sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profiles.profile import UserProfile
    from streams.messages.records import TimeRule
    from streams.settings import Settings
    from streams.worker.placement import user_partition

    behaviour = faust_app.parts["behaviour"]
    s = faust_app.settings
    # Historical times as DRIFTREC_TS_MIN=1990-01-01 (DRIFTREC_TS_UNIT=auto) says: the worker
    # decodes with Settings.times. One context per module: a second one restarts its offsets.
    since_1990 = TimeRule("auto", 631_152_000.0)
    assert Settings().times != since_1990  # by default none of the three below is accepted
    monkeypatch.setattr(Settings, "times", property(lambda self: since_1990))
    # test_context delivers on partition 0: users placed elsewhere would be forwarded.
    old = [u for u in (f"h{n}" for n in range(200)) if user_partition(u, s.partitions) == 0]
    dec_1997 = 881_250_949  # 1997-12-04T15:55:49Z, a MovieLens 100K time
    jun_1989 = 612_662_400  # 1989-06-01, before 1990-01-01
    historical = {old[0]: dec_1997, old[1]: dec_1997 * 1000, old[2]: jun_1989}

    async def go() -> None:
        async with behaviour.test_context() as agent:
            for k in range(3):
                await agent.put(event(k, item=f"tea-{k}"), key=b"u1")
            await agent.put(b"\xff garbage", key=b"u1")
            await agent.put(event(9, item="unknown"), key=b"u1")
            await agent.put(event(1, item="tea-1"), key=b"u1")  # the same event produced again
            for user, ts in historical.items():
                await agent.put(event(0, user=user, item="tea-1", ts=ts), key=user.encode())
            await until(lambda: len(sent) >= 6, "three lists and three dead letters")

    run(faust_app.app, go)
    lists = [json.loads(v) for t, _, v in sent if t == s.recommendations_topic and v]
    dlq = [json.loads(v) for t, _, v in sent if t == s.dlq_topic(s.events_topic) and v]
    assert lists[0]["trigger"] == "cold_start" and lists[0]["event_id"] == "u1-0"
    assert {i["item_id"] for i in lists[0]["items"]}.isdisjoint({"tea-0"})
    assert sorted(d["reason"] for d in dlq) == ["bad_timestamp", "not_utf8", "unknown_item"]
    late = next(d for d in dlq if d["reason"] == "bad_timestamp")
    assert "outside [1990-01-01, 2100-01-01)" in late["error"]
    profile = UserProfile.from_bytes(faust_app.profiles.get(b"u1"))
    assert profile.events_applied == 3 and profile.last_event_id == "u1-2"
    assert faust_app.metrics.events_skipped._value.get() >= 1
    assert faust_app.profiles.get(old[2].encode()) is None
    for user in old[:2]:  # seconds and milliseconds: the same 1997 instant, not shifted
        profile = UserProfile.from_bytes(faust_app.profiles.get(user.encode()))
        assert profile.last_ts == float(dec_1997), user


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


def test_topics_created_up_front_include_every_topic_faust_declares(faust_app: Any) -> None:
    """streams.topics creates Faust's changelogs and leader topic before the worker starts (so no
    group join races their creation); same names, partitions and compaction as Faust declares."""
    from streams.topics import topic_specs

    app = faust_app.app
    specs = {spec.name: spec for spec in topic_specs(faust_app.settings)}
    declared = [t.changelog_topic for t in (faust_app.profiles, faust_app.catalog)]
    declared.append(app._leader_assignor._leader_topic)
    for topic in declared:
        name = topic.get_topic_name()
        assert name in specs, name
        assert specs[name].partitions == topic.partitions, name
        compact = specs[name].config.get("cleanup.policy") == "compact"
        assert compact == bool(topic.compacting), name


def test_openapi_lists_every_route_and_is_the_checked_in_file(faust_app: Any) -> None:
    from streams.settings import PROJECT_ROOT
    from streams.worker import views

    web = faust_app.app.web
    web.init_server()  # Faust's own blueprints register their routes here, as on a worker
    routes = {(r.method, r.resource.canonical) for r in web.web_app.router.routes()}
    doc = views.OPENAPI
    documented = {("GET", p) for p in doc["paths"]} | {("HEAD", p) for p in doc["paths"]}
    assert routes == documented
    assert all(list(ops) == ["get"] for ops in doc["paths"].values())
    checked_in = json.loads((PROJECT_ROOT / "schemas" / "openapi.json").read_text())
    assert json.loads(json.dumps(doc)) == checked_in
    assert views.json_errors in web.web_app.middlewares


@pytest.mark.parametrize(
    ("raw", "k"), [(None, None), ("1", 1), ("25", 25), ("0025", 25), ("1000", 1000)]
)
def test_k_parameter_accepted(faust_app: Any, raw: str | None, k: int | None) -> None:
    from streams.worker.views import _k

    class Req:
        query: ClassVar[dict[str, str]] = {} if raw is None else {"k": raw}

    assert _k(Req()) == k  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["0", "1001", "-3", "2.5", "ten", "", "²", "9" * 50])
def test_k_parameter_refused(faust_app: Any, raw: str) -> None:
    from streams.worker.views import _k

    class Req:
        query: ClassVar[dict[str, str]] = {"k": raw}

    with pytest.raises(ValueError, match="k must be an integer from 1 to 1000"):
        _k(Req())  # type: ignore[arg-type]
