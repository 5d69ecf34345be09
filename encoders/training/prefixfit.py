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

import logging
import sys
import time
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from encoders.baselines import BaselineConfig, gather_last
from encoders.baselines.gru4rec import GRU4Rec
from encoders.baselines.prefixes import prefix_samples
from encoders.baselines.sasrec import SASRec
from encoders.data.split import Split, group_by_user
from encoders.training.scoring import evaluate_split

if TYPE_CHECKING:
    from encoders.training.loop import TrainedModel

log = logging.getLogger(__name__)


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
    best, best_state, bad_epochs = -1.0, None, 0
    start = time.perf_counter()
    for epoch in range(1, tc.epochs + 1):
        trained.net.train()
        order = rng.permutation(len(samples))
        steps = range(0, len(order), tc.batch_size)
        bar = tqdm(
            steps,
            desc=f"{trained.kind} epoch {epoch}/{tc.epochs}",
            disable=not tc.progress,
            leave=False,
            unit="batch",
        )
        total, count = 0.0, 0
        for s in bar:
            x, lengths, y = samples.batch(order[s : s + tc.batch_size])
            x, lengths, y = x.to(device), lengths.to(device), y.to(device)
            user = gather_last(inner.encode(x), lengths)  # (B, D)
            loss = nn.functional.cross_entropy(user @ inner.item_matrix().T, y)  # (B, N)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]  # torch's backward is untyped
            opt.step()
            total, count = total + loss.item() * len(y), count + len(y)
        metrics = (
            evaluate_split(trained, split, "valid", mask_history=tc.valid_mask_history)
            if split.users
            else {"NDCG@10": 0.0}
        )
        row = {
            "epoch": float(epoch),
            "loss": total / max(count, 1),
            **metrics,
            "seconds": time.perf_counter() - start,
        }
        trained.history.append(row)
        log.info(
            "%s epoch %d: loss %.4f valid NDCG@10 %.4f",
            trained.kind,
            epoch,
            row["loss"],
            metrics["NDCG@10"],
        )
        if tc.progress:
            tqdm.write(
                f"{trained.kind} epoch {epoch}: loss {row['loss']:.4f} valid NDCG@10 "
                f"{metrics['NDCG@10']:.4f} HR@10 {metrics.get('HR@10', 0):.4f} "
                f"({row['seconds']:.0f}s, {len(samples)} samples)",
                file=sys.stderr,
            )
        if metrics["NDCG@10"] >= best:
            best, bad_epochs = metrics["NDCG@10"], 0
            best_state = {k: v.detach().clone() for k, v in inner.state_dict().items()}
            trained.metrics = {f"valid_{k}": v for k, v in metrics.items()} | {"best_epoch": epoch}
        else:
            bad_epochs += 1
            if bad_epochs > tc.patience:
                break
    if best_state is not None:
        inner.load_state_dict(best_state)
    trained.net.eval()
    trained.train_seconds = time.perf_counter() - start
