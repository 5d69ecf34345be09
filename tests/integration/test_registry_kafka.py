"""The registry on the real broker: CLI round trip, watcher, mirror when the broker is away."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from encoders.checkpoint import save_checkpoint
from streams.cli.main import cli
from streams.registry.state import RegistryState
from streams.registry.transport import RegistryWatcher, read_state
from streams.settings import Settings

pytestmark = pytest.mark.integration


def _checkpoint(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    save_checkpoint(
        folder,
        kind="driftrec",
        config={"dim": 4},
        state={"w": torch.randn(3, 4)},
        metrics={"NDCG@10": 0.1 * seed},
    )
    return folder


@pytest.fixture
def env(
    kafka_bootstrap: str, unique_topic: str, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("DRIFTREC_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("DRIFTREC_REGISTRY_TOPIC", unique_topic)
    return Settings()


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_models_cli_round_trip_and_watcher(env: Settings, tmp_path: Path) -> None:
    a, b = _checkpoint(tmp_path / "a", 1), _checkpoint(tmp_path / "b", 2)
    out = _run("models", "add", str(a), "--promote")
    version_a = out.split()[0]
    version_b = _run("models", "add", str(b)).split()[0]
    rows = [json.loads(line) for line in _run("models", "list", "--json").splitlines()]
    assert {r["version"]: r["status"] for r in rows} == {
        version_a: "champion",
        version_b: "challenger",
    }
    assert all({"created", "data_window", "metrics", "parent"} <= set(r) for r in rows)
    assert rows[0]["metrics"]["valid"]["NDCG@10"] == pytest.approx(0.1)
    assert Path(rows[0]["path"]).is_dir()
    shown = json.loads(_run("models", "show", version_a))
    assert shown["lineage"]["version"] == version_a
    assert shown["champion_history"][0]["action"] == "promote"

    state, end = read_state(env)
    seen: list[tuple[str | None, str | None]] = []

    async def follow() -> None:
        watcher = RegistryWatcher(env, state, end)

        async def on_change(s: RegistryState) -> None:
            seen.append((s.champion, s.challenger))

        task = asyncio.create_task(watcher.run(on_change, poll_s=0.1))
        await asyncio.sleep(1.0)  # the watcher is at the end of the topic
        await asyncio.to_thread(_run, "models", "promote", version_b)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.1)
        await asyncio.to_thread(_run, "models", "rollback", "--reason", "test")
        for _ in range(100):
            if len(seen) > 1:
                break
            await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(follow())
    assert seen == [(version_b, None), (version_a, None)]
    rows = [json.loads(line) for line in _run("models", "list", "--json").splitlines()]
    assert {r["version"]: r["status"] for r in rows} == {
        version_a: "champion",
        version_b: "retired",
    }
    refused = CliRunner().invoke(cli, ["models", "rollback"])
    assert refused.exit_code != 0 and "nothing to roll back" in refused.output


def test_list_falls_back_to_the_mirror_when_the_broker_is_away(
    env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = _run("models", "add", str(_checkpoint(tmp_path / "a", 3))).split()[0]
    monkeypatch.setenv("DRIFTREC_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    result = CliRunner().invoke(cli, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert version in result.output
    assert "local mirror" in result.output
