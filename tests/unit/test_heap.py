"""DRIFTREC_GC_FREEZE: the Runtime freezes the heap after its first load; a swap unfreezes it."""

from __future__ import annotations

import asyncio
import gc

import pytest
from prometheus_client import CollectorRegistry

from streams.registry.state import CHAMPION_KEY, RegistryState
from streams.settings import Settings
from streams.worker.metrics import Metrics
from streams.worker.runtime import Runtime
from tests.fakes import FakeModel, catalog


def _runtime(**fields: object) -> Runtime:
    settings = Settings(watch_registry=False, **fields)  # type: ignore[arg-type]
    runtime = Runtime(settings, Metrics(CollectorRegistry()), loader=lambda s: FakeModel("fake-1"))  # type: ignore[arg-type,return-value]
    runtime.serving_model = lambda version, share: FakeModel(version)  # type: ignore[assignment,method-assign,return-value]
    items = catalog({"tea": 20})
    runtime.catalog_changed([(i.item_id, i) for i in items])
    return runtime


@pytest.mark.usefixtures("tmp_home")
def test_the_first_load_freezes_the_heap_and_a_swap_unfreezes_it() -> None:
    gc.unfreeze()
    runtime = _runtime(gc_freeze=True)
    leftover: list[object] = []

    async def scenario() -> None:
        await runtime.ready()
        assert gc.get_freeze_count() > 1000  # the model, catalog and everything else alive
        leftover.append(object())  # created after the freeze: still collectable
        state = RegistryState.from_records([(CHAMPION_KEY, {"stack": ["fake-2"], "history": []})])
        await runtime.follow(state)
        assert runtime.serving == ("fake-2", None)
        assert gc.get_freeze_count() == 0  # the retired model can be collected

    asyncio.run(scenario())
    runtime.close()


@pytest.mark.usefixtures("tmp_home")
def test_gc_freeze_off_leaves_the_heap_alone() -> None:
    gc.unfreeze()
    runtime = _runtime()  # the default: off
    asyncio.run(runtime.ready())
    runtime.close()
    assert gc.get_freeze_count() == 0
