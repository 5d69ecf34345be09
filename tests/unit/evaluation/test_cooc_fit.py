"""The served hybrid end to end: the blend weight chosen on validation at training time, stored in
the checkpoint (versioned; an artifact without it serves the interest model alone), and scored
offline by exactly what the worker serves."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from encoders.checkpoint import COOC_FILE, CheckpointError, add_cooc, load_checkpoint
from encoders.cooccurrence import build_table
from encoders.data.folder import DataFolder
from encoders.data.split import leave_last_out
from encoders.data.synth import SynthSpec, generate
from encoders.evaluation.base import ItemIndex
from encoders.evaluation.driftrec_model import DriftRecStream
from encoders.evaluation.offline import PROTOCOLS, evaluate_offline, replay_histories
from encoders.serving import ServingModel
from encoders.textenc import TextEncoder
from encoders.training.cooc_fit import GRID, choose_weight
from encoders.training.loop import TrainConfig, TrainedModel, train_model
from profiles.engine import Engine, Incoming
from profiles.policy import PolicyConfig
from profiles.retrieval import ItemIndex as Retrieval
from tests.unit.tinylm import build_tiny_model

SPEC = SynthSpec(users=12, items=30, topics=3, min_events=10, max_events=16, image_dim=4)
TC = TrainConfig(epochs=1, batch_size=8, device="cpu", progress=False, cooc_neighbours=20)


@pytest.fixture(scope="module")
def data() -> DataFolder:
    synth = generate(SPEC, seed=2)
    return DataFolder(items=synth.items, events=synth.events)


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def trained(data: DataFolder, bert: Path) -> TrainedModel:
    return train_model(data, "driftrec", train_config=TC, encoder=TextEncoder(bert, device="cpu"))


def test_weight_rule_keeps_the_model_alone_unless_the_blend_helps() -> None:
    flat = {str(w): {"mean": 0.2} for w in GRID}
    assert choose_weight(flat) == 0.0  # ties go to the smaller weight: 0
    worse = {str(w): {"mean": 0.3 if w == 0 else 0.1} for w in GRID}
    assert choose_weight(worse) == 0.0
    better = {str(w): {"mean": 0.1 + (0.2 if w == 0.5 else 0.0)} for w in GRID}
    assert choose_weight(better) == 0.5


def test_training_fits_the_table_and_weight_on_validation(
    trained: TrainedModel, data: DataFolder
) -> None:
    fit = trained.cooc
    assert fit is not None and set(fit.valid) == {str(w) for w in GRID}
    assert fit.weight == choose_weight(fit.valid) and trained.metrics["cooc_weight"] == fit.weight
    split = leave_last_out(data.events)
    want = build_table([i.item_id for i in data.items], split.train_events(), top=20)
    assert fit.table.digest() == want.digest()  # training events only, TrainConfig's M
    # The w = 0 row is the interest model alone, through the same serving scorer.
    serving = trained.to_serving()
    serving.set_cooc(None, 0.0)
    alone = evaluate_offline(
        DriftRecStream(serving, ItemIndex(data.items)), split, ItemIndex(data.items),
        stage="valid", ks=(10,), protocols=PROTOCOLS,
    )  # fmt: skip
    for p in PROTOCOLS:
        assert fit.valid["0.0"][p] == pytest.approx(alone.by_protocol[p]["NDCG@10"])
    none = train_model(
        data, "driftrec", train_config=replace(TC, cooc_neighbours=0), encoder=trained.encoder
    )
    assert none.cooc is None and none.to_serving().cooccurrence(["x"]) is None


def test_checkpoint_with_and_without_the_table(trained: TrainedModel, tmp_path: Path) -> None:
    fit = trained.cooc
    assert fit is not None
    hybrid_dir, plain_dir = tmp_path / "hybrid", tmp_path / "plain"
    hybrid_version = trained.save(hybrid_dir)
    plain = replace(trained, cooc=None)
    plain_version = plain.save(plain_dir)
    assert hybrid_version != plain_version and not (plain_dir / COOC_FILE).exists()
    # An artifact without a table (every model before this change) loads and serves alone.
    served_alone = ServingModel.load(plain_dir, device="cpu")
    assert served_alone.cooc is None and served_alone.cooccurrence(["i"]) is None
    assert "cooc" not in load_checkpoint(plain_dir).meta
    # With it: the table and weight come back; adding the same table to the plain folder gives
    # the same content id (weights untouched).
    served = ServingModel.load(hybrid_dir, device="cpu")
    assert served.cooc is not None and served.cooc.digest() == fit.table.digest()
    assert served.cooc_weight == fit.weight and served.version == hybrid_version
    copy = tmp_path / "added"
    shutil.copytree(plain_dir, copy)
    assert add_cooc(copy, fit.table, fit.meta()) == hybrid_version
    assert (copy / "model.safetensors").read_bytes() == (
        plain_dir / "model.safetensors"
    ).read_bytes()
    # A table that is not the one checkpoint.json names is refused.
    other = build_table(list(fit.table.item_ids), [], top=3)
    other.save(copy / COOC_FILE)
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(copy)


def test_offline_scores_are_the_lists_the_worker_serves(
    trained: TrainedModel, data: DataFolder
) -> None:
    serving = trained.to_serving()
    serving.set_cooc(trained.cooc.table if trained.cooc else None, 1.0)  # make the blend count
    catalog = ItemIndex(data.items)
    user = leave_last_out(data.events).users[0]
    history = list(user.history("test"))
    stream = DriftRecStream(serving, catalog, window=20)
    offline = stream.scores(stream.interest(replay_histories(stream, [history])))[0]
    index: Retrieval = Retrieval(serving.dim)
    for emb in serving.embed_items(data.items):
        index.upsert(emb.item_id, emb.vec, emb)
    engine = Engine(serving, index, PolicyConfig(refresh_events=1), top_k=10, window=20,
                    exclude="none")  # fmt: skip
    batch = [Incoming(e, "ev:0", k, k) for k, e in enumerate(history)]
    result = engine.process(batch, {})
    served = result.lists[-1].items
    want = np.argsort(-offline, kind="stable")[:10]
    assert [s.item_id for s in served] == [catalog.ids[j] for j in want]
    np.testing.assert_allclose([s.score for s in served], offline[want], atol=1e-4)
    alone = serving.score(stream.interest(replay_histories(stream, [history]))[:, : serving.dim],
                          stream.item_vecs)[0]  # fmt: skip
    assert list(np.argsort(-alone)[:10]) != list(want)  # the blend changed the list


def test_cooc_command_adds_the_same_table_and_weight(
    trained: TrainedModel, tmp_path: Path, tmp_home: Path
) -> None:
    from click.testing import CliRunner

    from encoders.data.synth import generate as synth
    from streams.cli.main import cli

    synth(SPEC, seed=2).write(tmp_path / "data")  # the data the fixture model was trained on
    hybrid_version = trained.save(tmp_path / "hybrid")
    replace(trained, cooc=None).save(tmp_path / "plain")
    args = ["cooc", "--data", str(tmp_path / "data"), "--model", str(tmp_path / "plain")]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out"), "--device", "cpu",
                                      "--neighbours", "20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]  # "... saved to OUT {version, weight}"
    assert json.loads(last[last.index("{") :]) == {
        "version": hybrid_version,
        "weight": trained.cooc.weight if trained.cooc else None,
    }
    assert load_checkpoint(tmp_path / "out").version == hybrid_version
    assert "cooc" not in load_checkpoint(tmp_path / "plain").meta  # --out leaves --model alone
    (tmp_path / "empty").mkdir()
    bad = CliRunner().invoke(cli, ["cooc", "--data", str(tmp_path / "data"), "--model",
                                   str(tmp_path / "empty")])  # fmt: skip
    assert bad.exit_code == 1 and "not a driftrec model folder" in bad.output
