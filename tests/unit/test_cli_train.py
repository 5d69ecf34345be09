"""``driftrec train`` through click's runner on tiny data with a tiny text model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from encoders.data.folder import write_folder
from streams.cli import cli
from tests.unit.test_training import tiny_data
from tests.unit.tinylm import build_tiny_model


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tiny_data()
    write_folder(tmp_path / "data", data.items, data.events)
    return tmp_path / "data"


@pytest.mark.parametrize("kind", ["driftrec", "sasrec"])
def test_train_writes_a_checkpoint_and_a_table(
    kind: str, data_dir: Path, tmp_path: Path, tmp_home: Path
) -> None:
    bert = build_tiny_model(tmp_path / "bert", "bert")
    out = tmp_path / "model"
    args = [
        "train",
        "--data",
        str(data_dir),
        "--out",
        str(out),
        "--kind",
        kind,
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--text-encoder",
        str(bert),
        "--no-progress",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "NDCG@10" in result.output and "saved to" in result.output
    meta = json.loads((out / "checkpoint.json").read_text())
    assert meta["kind"] == kind and "test_NDCG@10" in meta["metrics"]
    assert (out / "model.safetensors").is_file()
    if kind == "driftrec":
        assert meta["text_encoder"]["source"] == str(bert)
        assert (tmp_home / "cache" / "text-vectors.sqlite").is_file()  # shared with the workers


def test_train_reports_a_bad_data_folder(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "d"), "--out", "x"])
    assert result.exit_code == 1
    assert "items.jsonl not found" in result.output
