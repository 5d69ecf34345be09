"""The reference training loop of the ID baselines (GRU4Rec, SASRec): RecBole 1.2.1's trainer.

* samples: every prefix of each user's training sequence, target = the next item
  (:mod:`encoders.baselines.prefixes`), shuffled each epoch, ``batch_size`` per step;
* loss: cross entropy of the last position's user vector against the full catalog
  (``user @ item_matrix().T``; RecBole's table also carries its padding row as a class that is
  never a target, driftrec's softmax is over the N items only);
* optimiser: Adam, constant ``lr`` (1e-3), ``weight_decay`` (0), no warm-up, no clipping;
* early stopping as RecBole's ``early_stopping``: after each epoch the validation NDCG@10 (full
  ranking; history *not* masked unless ``valid_mask_history``, RecBole masks nothing for
  sequential models); a value >= the best so far resets the count, the run stops once more than
  ``patience`` epochs in a row were worse, or at ``epochs``; the best epoch's weights are kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from encoders.baselines import BaselineConfig, gather_last
from encoders.baselines.gru4rec import GRU4Rec
from encoders.baselines.prefixes import prefix_samples
from encoders.baselines.sasrec import SASRec
from encoders.data.split import Split, group_by_user
from encoders.training.epochs import Stopping, epoch_bar, fit_epochs
from encoders.training.scoring import evaluate_split

if TYPE_CHECKING:
    from encoders.training.loop import TrainedModel


def fit_baseline(trained: TrainedModel, split: Split, device: torch.device) -> None:
    """Train ``trained.net`` (a baseline) in place; fills ``metrics``, ``history``, time."""
    tc, cfg = trained.train_config, trained.config
    inner = trained.net.inner()
    assert isinstance(cfg, BaselineConfig) and isinstance(inner, GRU4Rec | SASRec)
    catalog = trained.catalog
    seqs = [
        [catalog.of(e.item_id) for e in seq] for seq in group_by_user(split.train_events()).values()
    ]
    samples = prefix_samples(seqs, cfg.n_items, cfg.max_len)
    if not len(samples):
        raise ValueError("no training samples: every user needs at least two events")
    opt = torch.optim.Adam(inner.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    rng = np.random.default_rng(trained.seed)

    def train_epoch(epoch: int) -> float:
        order = rng.permutation(len(samples))
        total, count = 0.0, 0
        for s in epoch_bar(trained, epoch, range(0, len(order), tc.batch_size)):
            x, lengths, y = samples.batch(order[s : s + tc.batch_size])
            x, lengths, y = x.to(device), lengths.to(device), y.to(device)
            user = gather_last(inner.encode(x), lengths)  # (B, D)
            loss = nn.functional.cross_entropy(user @ inner.item_matrix().T, y)  # (B, N)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]  # torch's backward is untyped
            opt.step()
            total, count = total + loss.item() * len(y), count + len(y)
        return total / max(count, 1)

    def validate() -> dict[str, float]:
        if not split.users:
            return {"NDCG@10": 0.0}
        return evaluate_split(trained, split, "valid", mask_history=tc.valid_mask_history)

    stopping = Stopping(tc.patience, recbole=True)
    note = f", {len(samples)} samples"
    fit_epochs(trained, inner, train_epoch, validate, stopping, echo=tc.progress, note=note)
