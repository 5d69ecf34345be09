"""The epoch loop with early stopping that driftrec's trainer and the baselines' share.

Each epoch: train (the caller's ``train_epoch``, which returns the epoch's loss), validate (the
caller's ``validate``: NDCG@10 and the other ranking metrics; 0 without validation users), append
a row to ``trained.history``, log it. The best epoch's weights are kept and loaded at the end.
When a score is a new best and when the run stops is the :class:`Stopping` rule, driftrec's own
or RecBole's (the baselines reproduce RecBole's trainer, :mod:`encoders.training.prefixfit`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from torch import nn
from tqdm import tqdm

if TYPE_CHECKING:
    from encoders.training.loop import TrainedModel

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Stopping:
    """driftrec's rule: a score above the best is a new best; the run stops after ``patience``
    epochs in a row without one. RecBole's ``early_stopping`` (``recbole=True``): a score equal
    to the best is a new best too; the run stops once more than ``patience`` in a row were worse."""

    patience: int
    recbole: bool = False

    def improves(self, score: float, best: float) -> bool:
        return score >= best if self.recbole else score > best

    def stops(self, bad_epochs: int) -> bool:
        return bad_epochs > self.patience if self.recbole else bad_epochs >= self.patience


def epoch_bar(trained: TrainedModel, epoch: int, steps: Iterable[T]) -> tqdm[T]:
    """The progress bar over one epoch's steps (off when ``train_config.progress`` is)."""
    tc = trained.train_config
    return tqdm(
        steps,
        desc=f"{trained.kind} epoch {epoch}/{tc.epochs}",
        disable=not tc.progress,
        leave=False,
        unit="batch",
    )


def fit_epochs(
    trained: TrainedModel,
    keep: nn.Module,
    train_epoch: Callable[[int], float],
    validate: Callable[[], dict[str, float]],
    stopping: Stopping,
    *,
    echo: bool,
    note: str = "",
) -> None:
    """Up to ``train_config.epochs`` epochs of ``trained.net``; ``keep``'s best-epoch state is
    loaded at the end. Fills ``trained.history``, ``metrics`` (the best epoch's, ``valid_``
    prefixed, and ``best_epoch``) and ``train_seconds``. ``echo``: write each epoch's line to
    stderr (``note`` is added to it)."""
    best, best_state, bad_epochs = -1.0, None, 0
    start = time.perf_counter()
    for epoch in range(1, trained.train_config.epochs + 1):
        trained.net.train()
        loss = train_epoch(epoch)
        metrics = validate()
        score, seconds = metrics["NDCG@10"], time.perf_counter() - start
        trained.history.append({"epoch": float(epoch), "loss": loss, **metrics, "seconds": seconds})
        log.info("%s epoch %d: loss %.4f valid NDCG@10 %.4f", trained.kind, epoch, loss, score)
        if echo:
            tqdm.write(
                f"{trained.kind} epoch {epoch}: loss {loss:.4f} valid NDCG@10 {score:.4f} "
                f"HR@10 {metrics.get('HR@10', 0):.4f} ({seconds:.0f}s{note})",
                file=sys.stderr,
            )
        if stopping.improves(score, best):
            best, bad_epochs = score, 0
            best_state = {k: v.detach().clone() for k, v in keep.state_dict().items()}
            trained.metrics = {f"valid_{k}": v for k, v in metrics.items()} | {"best_epoch": epoch}
        else:
            bad_epochs += 1
            if stopping.stops(bad_epochs):
                break
    if best_state is not None:
        keep.load_state_dict(best_state)
    trained.net.eval()
    trained.train_seconds = time.perf_counter() - start
