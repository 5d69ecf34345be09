"""``driftrec eval`` end to end on a tiny synthetic folder with a tiny language model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from encoders.data.synth import SynthSpec, generate
from streams.cli import cli
from tests.unit.tinylm import build_tiny_model

SPEC = SynthSpec(users=16, items=40, topics=3, min_events=12, max_events=20, image_dim=4)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("bert"), "bert")


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    generate(SPEC, seed=5).write(folder)
    return folder


def _eval(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["eval", *args])
    return result.exit_code, result.output


def test_eval_writes_table_json_and_chart(tiny_lm: Path, synth_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "res.json"
    code, output = _eval(
        ["--data", str(synth_dir), "--train-epochs", "1", "--text-encoder", str(tiny_lm),
         "--device", "cpu", "--k", "5,10", "--json-out", str(out),
         "--seed", "3", "--save-checkpoints", str(tmp_path / "ck")]
    )  # fmt: skip
    assert code == 0, output
    assert "offline (leave-last-out, test" in output and "stream replay" in output
    doc = json.loads(out.read_text())
    assert set(doc) == {"protocol", "dataset", "models", "stream"}
    assert list(doc["models"]) == [
        "pop",
        "repeat",
        "cooc-knn",
        "itemknn-text",
        "static-profile",
        "gru4rec",
        "sasrec",
        "driftrec",
    ]
    for metrics in doc["models"].values():
        for key in ("HR@5", "NDCG@5", "MRR@5", "HR@10", "NDCG@10", "MRR@10"):
            assert 0.0 <= metrics[key] <= 1.0
        assert metrics["NDCG@10"] <= metrics["HR@10"]
        assert metrics["MRR@10"] <= metrics["NDCG@10"]
    for name in ("gru4rec", "sasrec", "driftrec"):  # no checkpoints: trained here, one epoch
        assert doc["models"][name]["source"] == "trained in eval"
        assert doc["models"][name]["best_epoch"] == 1
        saved = tmp_path / "ck" / "seed-3" / name  # --save-checkpoints keeps them, by seed
        assert doc["models"][name]["saved_to"] == str(saved)
        assert json.loads((saved / "checkpoint.json").read_text())["kind"] == name
    assert doc["dataset"]["evaluated_users"] == SPEC.users
    assert doc["dataset"]["synthetic_truth"] is True
    n_switches = sum(
        len(s) for s in json.loads((synth_dir / "truth.json").read_text())["switches"].values()
    )
    for stream in doc["stream"].values():
        assert stream["predictions"] > 100
        assert stream["time_to_adapt"]["switches"] == n_switches
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_split_file_and_protocols(tiny_lm: Path, synth_dir: Path, tmp_path: Path) -> None:
    events = [json.loads(line) for line in (synth_dir / "events.jsonl").read_text().splitlines()]
    user = events[0]["user_id"]
    items = [e["item_id"] for e in events if e["user_id"] == user and "item_id" in e]
    split = tmp_path / "split.json"
    split.write_text(json.dumps({user: {"valid": items[3], "test": items[5]}}))
    base = ["--data", str(synth_dir), "--models", "pop", "--no-stream", "--k", "10"]
    out = tmp_path / "s.json"
    code, output = _eval([*base, "--split-file", str(split), "--json-out", str(out)])
    assert code == 0, output
    doc = json.loads(out.read_text())
    assert doc["dataset"]["evaluated_users"] == 1
    assert doc["protocol"]["split"] == "split-file" and doc["stream"] == {}
    code, output = _eval([*base, "--json-out", str(out)])
    assert code == 0, output
    doc = json.loads(out.read_text())
    by_proto = doc["models"]["pop"]["by_protocol"]
    assert set(by_proto) == {"masked", "unmasked"}  # the default: both
    assert doc["protocol"]["offline_protocols"] == ["masked", "unmasked"]
    assert doc["models"]["pop"]["NDCG@10"] == by_proto["masked"]["NDCG@10"]  # masked first
    assert "history masked" in output and "history not masked" in output
    code, output = _eval([*base, "--protocol", "unmasked", "--json-out", str(out)])
    assert code == 0, output
    doc = json.loads(out.read_text())
    assert doc["protocol"]["mask_history"] is False
    assert list(doc["models"]["pop"]["by_protocol"]) == ["unmasked"]
    unmasked = doc["models"]["pop"]["NDCG@10"]
    assert unmasked == by_proto["unmasked"]["NDCG@10"]
    code, output = _eval([*base, "--no-mask-history", "--json-out", str(out)])  # deprecated alias
    assert code == 0 and "deprecated" in output
    assert json.loads(out.read_text())["protocol"]["offline_protocols"] == ["unmasked"]


def test_bad_options_are_clear_errors(synth_dir: Path) -> None:
    code, output = _eval(["--data", str(synth_dir), "--models", "pop,nope"])
    assert code == 2 and "unknown model(s) ['nope']" in output
    code, output = _eval(["--data", str(synth_dir), "--k", "0"])
    assert code == 2 and "positive integers" in output
