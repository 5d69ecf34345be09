"""A hot swap keeps the event loop free and its memory bounded (the real Runtime, fake models).

The catalog table (1,200 items) and the profiles table (300 profiles of the old model) are raw
byte sources, as the worker's RocksDB tables are. A probe task counts turns of the event loop;
every record the swap pulls is stamped with the turn it was pulled in, and every decode with the
thread it ran on. The swap may pull at most one chunk per turn, must decode nothing on the loop,
and may hold at most ``rebuild_ahead_max`` rebuilt profiles (the most recently active ones).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

import streams.worker.hotswap as hotswap
from profiles.profile import RecentEvent, UserProfile
from streams.messages.codec import encode_json
from streams.messages.records import ItemRecord
from streams.registry.state import CHAMPION_KEY, RegistryState
from streams.settings import Settings
from streams.worker.hotswap import SWAP_CHUNK
from streams.worker.metrics import Metrics
from streams.worker.runtime import Runtime
from tests.fakes import FakeModel, catalog

KEEP = 50
USERS = 300


def _profile(k: int) -> UserProfile:
    p = UserProfile(f"user-{k:03d}", "fake-1", np.zeros(16, np.float32), 8, window=20)
    for i in range(5):
        p.recent.append(RecentEvent(f"user-{k}-e{i}", f"tea-{(k + i) % 400}", "click", 1e9 + i))
    p.events_applied = 5
    p.last_event_id = f"user-{k}-e4"
    p.last_ts = 1e9 + (k * 7919) % USERS  # recency unrelated to the table's key order
    return p


class Probe:
    """Counts turns of the event loop; records what was pulled in which turn, decoded where."""

    def __init__(self) -> None:
        self.turn = 0
        self.pulls: list[tuple[int, str]] = []
        self.decoded_on: Counter[str] = Counter()
        self.loop_thread = threading.get_ident()

    async def run(self) -> None:
        while True:
            self.turn += 1
            await asyncio.sleep(0)

    def source(self, table: dict[bytes, bytes], kind: str, hook: Any = None) -> Iterator[Any]:
        for n, (key, value) in enumerate(list(table.items())):
            if hook is not None:
                hook(n)
            self.pulls.append((self.turn, kind))
            yield key, value

    def decoded(self, kind: str) -> None:
        on_loop = threading.get_ident() == self.loop_thread
        self.decoded_on[f"{kind} on {'loop' if on_loop else 'model thread'}"] += 1


def test_a_swap_pulls_in_chunks_decodes_off_the_loop_and_holds_a_bounded_number_of_profiles(
    tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = Probe()
    real_decode_item, real_from_bytes = hotswap.decode_item, UserProfile.from_bytes.__func__

    def decode_item(*args: Any, **kwargs: Any) -> ItemRecord:
        probe.decoded("item")
        return real_decode_item(*args, **kwargs)

    def from_bytes(cls: type[UserProfile], *args: Any, **kwargs: Any) -> UserProfile:
        probe.decoded("profile")
        return real_from_bytes(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(hotswap, "decode_item", decode_item)
    monkeypatch.setattr(UserProfile, "from_bytes", classmethod(from_bytes))

    settings = Settings(watch_registry=False, rebuild_ahead_max=KEEP, rebuild="background")
    metrics = Metrics(CollectorRegistry())
    runtime = Runtime(settings, metrics, loader=lambda s: FakeModel("fake-1"))  # type: ignore[arg-type,return-value]
    runtime.serving_model = lambda version, share: FakeModel(version)  # type: ignore[assignment,method-assign,return-value]
    items = catalog({"tea": 400, "garden": 400, "books": 400})
    items_table = {i.item_id.encode(): encode_json(i.to_json()) for i in items}
    profiles = [_profile(k) for k in range(USERS)]
    profiles_table = {p.user_id.encode(): p.to_bytes() for p in profiles}
    moved = ItemRecord(item_id="books-399", title="now a garden item", category="garden")
    added = ItemRecord(item_id="new-1", title="new", category="tea")

    def during_the_swap(n: int) -> None:  # catalog changes arriving while the swap reads
        if n == 600:
            runtime.catalog_changed([("tea-0", None), ("books-399", moved), ("new-1", added)])

    runtime.catalog_items = lambda: probe.source(items_table, "item", during_the_swap)
    runtime.profile_items = lambda: probe.source(profiles_table, "profile")
    runtime.profile_get = profiles_table.get

    async def scenario() -> None:
        runtime.catalog_changed([(i.item_id, i) for i in items])
        await runtime.ready()
        ticker = asyncio.create_task(probe.run())
        probe.decoded_on.clear()
        state = RegistryState.from_records([(CHAMPION_KEY, {"stack": ["fake-2"], "history": []})])
        await runtime.follow(state)
        ticker.cancel()

    asyncio.run(scenario())
    runtime.close()

    router = runtime.router
    assert router is not None and runtime.serving == ("fake-2", None)
    # the new model's index: the whole catalog, with the changes that came during the swap
    index = router.index
    assert len(index) == 1200 and "tea-0" not in index and "new-1" in index
    expected = FakeModel("x").embed_items([moved])[0].vec
    assert np.allclose(index.payload("books-399").vec, expected)  # not the table's older record
    # the event loop: at most one chunk pulled per turn, nothing decoded on it
    per_turn = Counter(probe.pulls)
    assert sum(per_turn.values()) == 1200 + USERS
    assert max(per_turn.values()) <= SWAP_CHUNK
    # every record decoded on the model thread, but books-399: the queue had a newer one
    assert probe.decoded_on["item on model thread"] == 1200 - 1
    assert probe.decoded_on["item on loop"] == 0 and probe.decoded_on["profile on loop"] == 0
    # memory: KEEP rebuilt profiles held, the most recently active ones
    newest = sorted(profiles, key=lambda p: -(p.last_ts or 0.0))[:KEEP]
    assert set(router.rebuilt) == {p.user_id for p in newest}
    assert all(p.model_version == "fake-2" for p in router.rebuilt.values())
    held = metrics.registry.get_sample_value("driftrec_rebuilt_profiles_held")
    assert held == KEEP
    assert runtime.swaps[-1]["rebuilt_ahead"] == KEEP
