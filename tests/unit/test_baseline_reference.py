"""GRU4Rec and SASRec as RecBole 1.2.1 has them: prefix augmentation, padding, architecture,
early stopping; and the trainer learns a sequential pattern with them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from encoders.baselines import BaselineConfig, tokens_of
from encoders.baselines.gru4rec import GRU4Rec
from encoders.baselines.prefixes import prefix_samples
from encoders.baselines.sasrec import SASRec
from encoders.config import ConfigError
from encoders.model import EventTensors
from encoders.training import prefixfit
from encoders.training.loop import TrainConfig, train_model
from tests.unit.test_training import tiny_data


def test_every_prefix_is_a_sample_cut_to_max_len() -> None:
    # user 1: items 0 1 2 3 (catalog indices), user 2: 4, none, 5
    ps = prefix_samples([[0, 1, 2, 3], [4, -1, 5]], n_items=6, max_len=2)
    x, lengths, y = ps.batch(np.arange(len(ps)))
    assert y.tolist() == [1, 2, 3, 5]  # no sample targets the event without an item
    assert lengths.tolist() == [1, 2, 2, 2]
    # tokens = index + 1, no item = n_items + 1 = 7, padding 0 on the right
    assert x.tolist() == [[1, 0], [1, 2], [2, 3], [5, 7]]


def test_tokens_pad_with_zero_and_mark_missing_items() -> None:
    item = torch.tensor([[2, -1, 0], [1, -1, -1]])
    mask = torch.tensor([[True, True, True], [True, False, False]])
    ev = EventTensors(item, item * 0, item * 0.0, torch.zeros(2, 3, 1), item * 0.0, mask)
    assert tokens_of(ev, n_items=4).tolist() == [[3, 5, 1], [2, 0, 0]]


def test_recbole_defaults_and_architecture() -> None:
    gru = BaselineConfig(kind="gru4rec", n_items=100)
    sas = BaselineConfig(kind="sasrec", n_items=100)
    assert (gru.dim, gru.hidden, gru.layers, gru.dropout, gru.max_len) == (64, 128, 1, 0.3, 50)
    assert (sas.dim, sas.layers, sas.heads, sas.inner, sas.dropout, sas.attn_dropout) == (
        64, 2, 2, 256, 0.5, 0.5,
    )  # fmt: skip
    net = GRU4Rec(gru)
    assert net.gru.bias is False and net.items.weight.shape == (102, 64)
    # RecBole's GRU4Rec on 100 items (+ its padding row): 101*64 + 3*128*(64+128) + 128*64 + 64
    recbole_params = 101 * 64 + 3 * 128 * (64 + 128) + 128 * 64 + 64
    assert sum(p.numel() for p in net.parameters()) == recbole_params + 64  # + "no item" row
    sasrec = SASRec(sas)
    assert all(m.eps == 1e-12 for m in sasrec.modules() if isinstance(m, torch.nn.LayerNorm))
    assert abs(float(sasrec.items.weight.detach().std()) - 0.02) < 0.003


def test_sasrec_is_causal_and_ignores_padding() -> None:
    torch.manual_seed(0)
    net = SASRec(BaselineConfig(kind="sasrec", n_items=20, max_len=6)).eval()
    a = torch.tensor([[3, 4, 5, 6, 0, 0]])
    b = torch.tensor([[3, 4, 5, 9, 7, 2]])
    with torch.no_grad():
        out_a, out_b = net.encode(a), net.encode(b)
        short = net.encode(a[:, :3])
    torch.testing.assert_close(out_a[:, :3], out_b[:, :3])  # later tokens change nothing before
    torch.testing.assert_close(out_a[:, :3], short)  # nor does right padding
    with pytest.raises(ValueError, match="at most 6"):
        net.encode(torch.ones(1, 7, dtype=torch.long))


def test_old_baseline_checkpoints_are_refused() -> None:
    old = {"kind": "gru4rec", "n_items": 5, "dim": 64, "layers": 2, "heads": 1, "dropout": 0.2,
           "max_len": 50}  # fmt: skip
    with pytest.raises(ConfigError, match="older architecture"):
        BaselineConfig.from_json(old)
    new = BaselineConfig(kind="sasrec", n_items=5)
    assert BaselineConfig.from_json(new.to_json()) == new


def test_trainer_defaults_follow_recbole() -> None:
    tc = TrainConfig.for_kind("sasrec", epochs=7)
    assert (tc.epochs, tc.batch_size, tc.lr, tc.weight_decay, tc.patience) == (7, 256, 1e-3, 0, 10)
    assert tc.valid_mask_history is False
    assert TrainConfig.for_kind("driftrec") == TrainConfig()


@pytest.mark.parametrize("kind", ["gru4rec", "sasrec"])
def test_baselines_learn_a_walk(kind: str) -> None:
    data = tiny_data(n_users=40, length=10)
    tc = TrainConfig.for_kind(kind, epochs=25, batch_size=32, lr=5e-3, patience=3, progress=False)
    trained = train_model(data, kind, seed=0, train_config=tc)
    assert trained.metrics["valid_HR@5"] >= 0.9  # chance: 5 of 20 items
    assert trained.history[-1]["loss"] < trained.history[0]["loss"]


def test_early_stopping_as_recbole(monkeypatch: pytest.MonkeyPatch) -> None:
    # RecBole's early_stopping: a value >= the best resets the count (epoch 4 ties epoch 2 and
    # becomes the best); the run stops once more than `patience` (2) epochs in a row are worse.
    script = iter([0.1, 0.3, 0.2, 0.3, 0.25, 0.2, 0.1, 0.9, 0.9])
    monkeypatch.setattr(
        prefixfit, "evaluate_split", lambda *a, **k: {"NDCG@10": next(script), "HR@10": 0.5}
    )
    tc = TrainConfig.for_kind("gru4rec", epochs=9, patience=2, progress=False)
    trained = train_model(tiny_data(), "gru4rec", seed=0, train_config=tc)
    assert len(trained.history) == 7
    assert trained.metrics["best_epoch"] == 4 and trained.metrics["valid_NDCG@10"] == 0.3
