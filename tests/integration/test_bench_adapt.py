"""bench.adapt end to end on the real broker: a synthetic folder through one real worker, every
event handled, every published list read back and placed, every switch scored.

Counts and consistency only; the figures themselves are what `python -m bench.adapt` measures
(bench/results/adapt/), never what a test asserts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.adapt import run_adapt, table
from tests.integration.world_support import tiny_world

pytestmark = pytest.mark.integration


def test_every_event_is_handled_and_every_switch_scored(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    world = tiny_world()
    data = world.model_dir.parent / "data"
    truth = json.loads((data / "truth.json").read_text())
    result = run_adapt(data, world.model_dir, kafka_bootstrap, tmp_path, overrides={})
    run, scores = result["run"], result["scores"]
    assert run["events_applied"] == len(world.data.events) == result["data"]["events"]
    assert run["dead_letters"] == 0
    assert run["lists_read"] == run["lists_published"] > 0
    assert scores["lists_not_in_the_data"] == 0
    assert sum(scores["lists_scored_by_trigger"].values()) == run["lists_published"]  # no bots
    n_switches = sum(len(s) for s in truth["switches"].values())
    assert scores["switches"] == n_switches > 0
    assert sum(scores["events_to_adapt_distribution"].values()) == n_switches
    drift = scores["lists_scored_by_trigger"].get("drift", 0)
    assert sum(scores["drift_lists"].values()) == drift
    assert 0 < scores["share_adapted"] <= 1
    assert (
        result["worker_policy"]["refresh_events"] == 50
    )  # the Settings default, not the bench's 1
    assert [r["name"] for r in result["targets"]] == [
        "median_events_to_adapt",
        "share_adapted_within_3",
        "noise_to_switch_drift_lists",
    ]
    assert "share_adapted_within_3" in table(result | {"machine": {}, "command": ""})
