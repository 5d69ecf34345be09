"""Scoring histories against the whole catalog with a trained model (training's validation, the
``train`` command's test table and any caller that wants ``(U, N)`` scores).

* :func:`score_histories` ``(trained, histories) -> (U, N)``: each history (events in time order)
  runs through the model's sequence forward and its last position scores every item (columns in
  ``trained.catalog.ids`` order). The baselines see the last ``max_len`` events (RecBole's
  MAX_ITEM_LIST_LENGTH); driftrec sees the whole history, as the streaming step does.
* :func:`evaluate_split`: full-ranking HR/NDCG/MRR@{5,10,20} on a split's valid or test targets,
  history masked unless ``mask_history=False`` (encoders.evaluation.ranking).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from encoders.baselines import BaselineConfig
from encoders.config import ModelConfig
from encoders.data.split import Split, Stage
from encoders.evaluation.ranking import ranking_metrics
from encoders.model import DriftRecModel
from encoders.training.batching import collate, gaps_seconds
from streams.messages.records import BehaviourEvent

if TYPE_CHECKING:
    from encoders.training.loop import TrainedModel

F32 = npt.NDArray[np.float32]


def evaluate_split(
    trained: TrainedModel, split: Split, stage: Stage = "valid", *, mask_history: bool = True
) -> dict[str, float]:
    """Full-ranking HR/NDCG/MRR@{5,10,20} of ``trained`` on ``split``'s ``stage`` targets;
    history items masked (and no repeat bonus), or kept (with driftrec's repeat bonus)."""
    histories = [u.history(stage) for u in split.users]
    scores = score_histories(trained, histories, repeat=not mask_history)
    targets = [trained.catalog.index[u.target(stage)] for u in split.users]
    exclude = None
    if mask_history:
        exclude = [{trained.catalog.of(e.item_id) for e in h} - {-1} for h in histories]
    return ranking_metrics(scores, targets, exclude)


def score_histories(
    trained: TrainedModel, histories: Sequence[Sequence[BehaviourEvent]], *, repeat: bool = False
) -> F32:
    """(U, N) scores of every catalog item after each history (see the module docstring);
    ``repeat``: add driftrec's learned repeat bonus (for rankings that keep history items)."""
    net, device = trained.net, trained.device
    config = trained.config
    cap = config.max_len if isinstance(config, BaselineConfig) else None
    seqs = [list(h[-cap:]) if cap else list(h) for h in histories]
    text_dim = trained.config.text_dim if isinstance(trained.config, ModelConfig) else 1
    lookup = _text_lookup(trained, seqs)
    out = np.zeros((len(seqs), len(trained.catalog)), dtype=np.float32)
    order = sorted((i for i, s in enumerate(seqs) if s), key=lambda i: len(seqs[i]))
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        vecs = net.item_matrix()  # (N, D)
        for rows in _position_budget_batches(order, [len(s) for s in seqs]):
            part = [seqs[i] for i in rows]
            gaps = [gaps_seconds(s) for s in part]
            ev = collate(part, gaps, trained.catalog, text_dim, lookup).to(device)
            users = net(ev, vecs)  # (B, T, D)
            last = torch.tensor([len(s) - 1 for s in part], device=device)
            pick = torch.arange(len(part), device=device)
            scores = users[pick, last] @ vecs.T  # (B, N)
            inner = net.inner()
            if repeat and isinstance(inner, DriftRecModel):
                recent = inner.recent_items(ev.item)  # (B, T, R) or None
                if recent is not None:
                    scores = inner.add_repeat_bonus(scores, recent[pick, last])
            out[rows] = scores.float().cpu().numpy()
    net.train(was_training)
    return out


#: Most padded event positions per scoring batch: bounds memory on very long histories (a
#: wholesaler with 7,000 purchases gets a batch nearly to itself) at ~0.3 GB of activations.
SCORE_POSITIONS = 65_536


def _position_budget_batches(order: list[int], lengths: list[int]) -> list[list[int]]:
    """Cut users (sorted by length) into batches of at most 256 users and SCORE_POSITIONS
    padded positions (batch size x its longest history)."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) >= 256 or (len(current) + 1) * lengths[i] > SCORE_POSITIONS):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _text_lookup(trained: TrainedModel, seqs: Sequence[Sequence[BehaviourEvent]]) -> Any:
    if trained.kind != "driftrec" or trained.encoder is None:
        return None
    missing = sorted({e.text for s in seqs for e in s if e.text} - set(trained.text_vectors))
    if missing:
        trained.text_vectors.update(zip(missing, trained.encoder.encode(missing), strict=True))
    return trained.text_vectors.__getitem__
