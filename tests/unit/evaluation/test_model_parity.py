"""The stream adapters give the trainer's own scores: driftrec through the ServingModel calls,
GRU4Rec and SASRec through their item window (one smoke epoch each)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.baselines import BaselineConfig
from encoders.baselines.gru4rec import GRU4Rec
from encoders.baselines.sasrec import SASRec
from encoders.config import ModelConfig
from encoders.data.folder import DataFolder
from encoders.data.split import leave_last_out
from encoders.data.synth import SynthSpec, generate
from encoders.evaluation.base import ItemIndex, StreamModel
from encoders.evaluation.driftrec_model import DriftRecStream
from encoders.evaluation.offline import replay_histories
from encoders.evaluation.seqmodels import WindowStream
from encoders.textenc import TextEncoder
from encoders.training.loop import TrainConfig, TrainedModel, train_model
from encoders.training.scoring import score_histories
from tests.unit.tinylm import build_tiny_model

SPEC = SynthSpec(users=12, items=30, topics=3, min_events=10, max_events=16, image_dim=4)
# cooc_neighbours=0: these parity checks are about the interest model (the hybrid: test_cooc_fit).
TC = TrainConfig(epochs=1, batch_size=8, device="cpu", progress=False, cooc_neighbours=0)


@pytest.fixture(scope="module")
def data() -> DataFolder:
    synth = generate(SPEC, seed=2)
    return DataFolder(items=synth.items, events=synth.events)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> TextEncoder:
    return TextEncoder(build_tiny_model(tmp_path_factory.mktemp("bert")), device="cpu")


def _histories(data: DataFolder) -> list[list[object]]:
    return [list(u.history("test")) for u in leave_last_out(data.events).users]


def _check(
    model: StreamModel, trained: TrainedModel, data: DataFolder, *, repeat: bool = False
) -> None:
    histories = _histories(data)
    assert any(len(h) > 12 for h in histories)  # longer than SASRec's window below
    assert max(len(h) for h in histories) < 64
    expected = score_histories(trained, histories, repeat=repeat)  # type: ignore[arg-type]
    got = model.scores(model.interest(replay_histories(model, histories)))  # type: ignore[arg-type]
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_driftrec_stream_matches_the_trainer(data: DataFolder, encoder: TextEncoder) -> None:
    trained = train_model(data, "driftrec", train_config=TC, encoder=encoder)
    _check(DriftRecStream(trained.to_serving(), ItemIndex(data.items)), trained, data)


@pytest.mark.parametrize("repeat", [False, True])
def test_driftrec_readout_levers_stream_matches_the_trainer(
    data: DataFolder, encoder: TextEncoder, repeat: bool
) -> None:
    # dot-product scoring, learned mix, attention over the last 5 events, repeat bonus over 6:
    # the streaming window (the profile's) gives the trainer's sliding-window numbers.
    config = ModelConfig(scoring="dot", learn_mix=True, attention_window=5, repeat_window=6, dim=16)
    trained = train_model(data, "driftrec", config=config, train_config=TC, encoder=encoder)
    net = trained.net.inner()
    with torch.no_grad():  # one epoch leaves the zero-initialised parts near zero: make them count
        for p in (net.readout.value.weight, net.readout.slot_bias, net.readout.repeat):  # type: ignore[union-attr]
            p.normal_(0.0, 0.5)
    stream = DriftRecStream(trained.to_serving(), ItemIndex(data.items), repeat=repeat)
    _check(stream, trained, data, repeat=repeat)


@pytest.mark.parametrize("kind", ["gru4rec", "sasrec"])
def test_sequential_streams_match_the_trainer(data: DataFolder, kind: str) -> None:
    # Both read their last 12 events (histories are longer: the window slides), in training, in
    # the trainer's scorer and in the stream.
    max_len = 12
    config = BaselineConfig(kind=kind, n_items=len(data.items), dim=16, max_len=max_len)
    trained = train_model(data, kind, config=config, train_config=replace(TC, max_len=max_len))
    net = trained.net.inner()
    assert isinstance(net, GRU4Rec | SASRec)
    catalog = ItemIndex(data.items)
    model = WindowStream(net, config, trained.catalog.ids, catalog)
    assert model.unknown_items == 0
    _check(model, trained, data)


def test_unknown_items_get_no_vector(data: DataFolder, tmp_path: Path) -> None:
    config = BaselineConfig(kind="gru4rec", n_items=len(data.items) - 1, dim=8)
    net = GRU4Rec(config)
    model = WindowStream(net, config, [i.item_id for i in data.items[1:]], ItemIndex(data.items))
    assert model.unknown_items == 1
    assert not model.item_vecs[0].any() and model.item_vecs[1].any()
