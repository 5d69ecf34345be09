"""The continuous learning loop on the real broker, with a real worker subprocess.

Traffic flows; a drifted synthetic population lowers the live hit rate; the trainer sees it on the
worker's metrics, retrains from Kafka alone and promotes the better model; the worker swaps without
a restart and without losing a profile; the hit rate recovers; a model trained on stale data is
refused and serves only the A/B share. The story itself is bench.loop_story (the same code makes
the recovery curve of the report); this test asserts on what it measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.loop_recovery import build_scenario, plot
from bench.loop_story import Lab, run_story
from streams.registry.state import RegistryState
from streams.registry.transport import read_state
from tests.unit.tinylm import build_tiny_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def story(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Lab, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("loop")
    lab = Lab(kafka_bootstrap, folder / "lab", build_tiny_model(folder / "bert"))
    return lab, run_story(lab, build_scenario(users=60, items=120))


def _rate(result: dict[str, Any], phase: str) -> float:
    value = result["phases"][phase]["hit_rate"]
    assert value is not None, f"no list judged in phase {phase}"
    return float(value)


def test_drift_lowers_the_live_hit_rate_and_the_trainer_notices(
    story: tuple[Lab, dict[str, Any]],
) -> None:
    _, r = story
    assert r["served_at_start"] == r["first_champion"]  # the worker serves the registry's champion
    assert _rate(r, "drift") < _rate(r, "before") - 0.1
    assert r["trainer_trigger"] is not None and r["trainer_trigger"].startswith("live hit rate")
    rate_drift, lists = r["trainer_look_drift"]
    assert rate_drift < r["trainer_look_before"][0] and lists >= 50


def test_the_retrained_model_is_promoted_swapped_in_and_the_hit_rate_recovers(
    story: tuple[Lab, dict[str, Any]],
) -> None:
    lab, r = story
    retrain = r["retrain"]
    assert retrain["promoted"], retrain["reason"]
    assert retrain["holdout"]["NDCG@10"] > retrain["champion_holdout"]["NDCG@10"]
    # trained from the log alone: every event produced before the round, nothing else
    assert retrain["data_window"]["events"] == r["marks"]["after promotion"]
    assert retrain["data_window"]["skipped"] == {}
    state: RegistryState = read_state(lab.settings())[0]
    assert state.champion == retrain["version"]
    assert state.status_of(r["first_champion"]) == "retired"
    assert _rate(r, "after promotion") > _rate(r, "drift") + 0.1
    after = r["phases"]["after promotion"]["by_version"]
    assert max(after, key=lambda v: after[v]["lists"]) == retrain["version"]


def test_the_swap_needs_no_restart_and_loses_no_profile(story: tuple[Lab, dict[str, Any]]) -> None:
    _, r = story
    assert r["worker_alive_same_pid"]
    w = r["worker"]
    assert w["swaps"] == 2  # the promotion, then the refused model as A/B challenger
    assert w["profile_resets"] == 0  # rebuilt from the recent-event window, never reset
    assert w["rebuilds"].get("background", 0) > 0
    profiles = r["profiles"]
    # every user's profile holds exactly the events produced for them: none lost, none twice
    assert profiles["complete"] == profiles["users"] == 60


def test_a_model_trained_on_stale_data_is_refused_and_only_serves_the_ab_share(
    story: tuple[Lab, dict[str, Any]], tmp_path: Path
) -> None:
    lab, r = story
    stale = r["stale_round"]
    assert not stale["promoted"] and stale["reason"].startswith("refused")
    assert stale["holdout"]["NDCG@10"] < stale["champion_holdout"]["NDCG@10"]
    state = read_state(lab.settings())[0]
    assert state.champion == r["retrain"]["version"]
    assert state.challenger == stale["version"]
    ab = r["phases"]["after (A/B)"]["by_version"]
    assert set(ab) == {r["retrain"]["version"], stale["version"]}
    assert ab[stale["version"]]["lists"] < ab[r["retrain"]["version"]]["lists"]
    assert set(r["worker"]["hit_rate_gauge"]) >= set(ab)  # exported per model version
    png = tmp_path / "curve.png"
    plot(r["curve"], r["marks"], png, "recovery")
    assert png.stat().st_size > 10_000


def test_train_from_kafka_counts_bad_records_and_registers_a_challenger(
    story: tuple[Lab, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from click.testing import CliRunner

    from bench.loop_story import _send
    from streams.cli.main import cli

    lab, r = story
    settings = lab.settings()
    for name, value in lab.env().items():
        monkeypatch.setenv(name, value)
    bad = [
        (b"u00001", b"{not json"),
        (
            b"u00001",
            json.dumps(
                {
                    "event_id": "x1",
                    "user_id": "u00001",
                    "ts": 1_704_067_200.0,
                    "action": "click",
                    "item_id": "no-such-item",
                }
            ).encode(),
        ),
        (
            b"someone-else",
            json.dumps(
                {
                    "event_id": "x2",
                    "user_id": "u00002",
                    "ts": 1_704_067_200.0,
                    "action": "view",
                    "item_id": "item-00001",
                }
            ).encode(),
        ),
    ]
    _send(settings, settings.events_topic, bad)
    result = CliRunner().invoke(
        cli, ["train", "--from-kafka", "--since", "1h", "--epochs", "2", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert '"not_json": 1' in result.output
    assert '"unknown_item": 1' in result.output and '"key_mismatch": 1' in result.output
    rows = [
        json.loads(x)
        for x in CliRunner().invoke(cli, ["models", "list", "--json"]).output.splitlines()
    ]
    newest = max(rows, key=lambda row: row["created"])
    assert newest["data_window"]["events"] == r["events"]  # every good event, none of the bad
    assert newest["status"] in {"challenger", "retired"}
    assert newest["parent"] == r["retrain"]["version"]
    assert "NDCG@10" in newest["metrics"]["holdout"]
