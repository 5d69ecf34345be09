"""Two workers started at the same moment on a catalog already on the items topic: the catalog
table gets every item and both workers index all of it; a deletion then leaves both indexes.

Before streams.faustcompat.holes, faust-streaming skipped an items record around the rebalances of
such a start in about one run in four (3,000 items, two workers): no worker ever wrote that item.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from faust.types import TP

from streams.faustcompat.holes import BrokerRange
from tests.integration.pipeline_support import Pipeline, item_bytes, read_all, send
from tests.integration.reliability_support import make_items

pytestmark = [pytest.mark.integration]

ITEMS = 2000


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_workers_started_together_index_the_whole_catalog(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(ITEMS)
    pipe.create(items)
    workers = [pipe.worker("a"), pipe.worker("b")]
    for w in workers:
        w.start()
    try:
        for w in workers:
            w.wait_catalog(ITEMS, 150)
        changelog = read_all(pipe.kafka(), f"{s.app_id}-catalog-changelog")
        assert {m.key for m in changelog} == {i.item_id.encode() for i in items}
        send(pipe.kafka(), s.items_topic, [(b"i7", None)])
        for w in workers:
            w.wait_catalog(ITEMS - 1, 60)
    finally:
        for w in workers:
            w.stop()


def test_broker_range_reads_the_offsets_asked_for(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder)
    s = pipe.settings
    items = make_items(6)
    pipe.create(items)
    sent = [item_bytes(i) for i in items]
    read = BrokerRange(pipe.kafka())
    try:
        got = asyncio.run(read(TP(s.items_topic, 0), 2, 5))
    finally:
        read.close()
    assert got == [(n, *sent[n]) for n in (2, 3, 4)]
