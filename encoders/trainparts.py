"""Pieces of the trainer: one module interface over driftrec and the baselines, the schedule."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from encoders.baselines import BaselineConfig
from encoders.baselines.gru4rec import GRU4Rec
from encoders.baselines.sasrec import SASRec
from encoders.config import ModelConfig
from encoders.fusion import item_features
from encoders.model import DriftRecModel, EventTensors
from encoders.records import ItemRecord
from encoders.textenc import TextEncoder


class SequenceRecommender(nn.Module):
    """``item_matrix() -> (N, D)``; ``forward(ev (B, T), item_vecs (N, D)) -> (B, T, D)`` user
    vectors after each position; ``inner()`` is the module whose weights a checkpoint stores."""

    def item_matrix(self) -> torch.Tensor:
        raise NotImplementedError

    def inner(self) -> nn.Module:
        raise NotImplementedError


class DriftRecAdapter(SequenceRecommender):
    features: torch.Tensor  # (N, F) buffer
    ids: torch.Tensor | None  # (N,) buffer, None without ID embeddings

    def __init__(self, config: ModelConfig, features: torch.Tensor) -> None:
        super().__init__()
        self.net = DriftRecModel(config)
        # Catalog features (N, F) live with the module (moved by .to) but are not weights.
        self.register_buffer("features", features.float(), persistent=False)
        ids = torch.arange(features.shape[0]) if config.n_id_items else None
        self.register_buffer("ids", ids, persistent=False)

    def item_matrix(self) -> torch.Tensor:
        return self.net.item_vectors(self.features, self.ids)  # (N, D)

    def forward(self, ev: EventTensors, item_vecs: torch.Tensor) -> torch.Tensor:
        return self.net.sequence(ev, self.features, item_vecs)[1]  # served interest (B, T, D)

    def inner(self) -> DriftRecModel:
        return self.net


class BaselineAdapter(SequenceRecommender):
    def __init__(self, config: BaselineConfig) -> None:
        super().__init__()
        self.net: GRU4Rec | SASRec = GRU4Rec(config) if config.kind == "gru4rec" else SASRec(config)

    def item_matrix(self) -> torch.Tensor:
        return self.net.item_matrix()

    def forward(self, ev: EventTensors, item_vecs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(ev)
        return out

    def inner(self) -> nn.Module:
        return self.net


def build_catalog_features(
    items: Sequence[ItemRecord], encoder: TextEncoder, config: ModelConfig
) -> npt.NDArray[np.float32]:
    """``(N, F)`` item features; item texts encoded once (through the encoder's cache)."""
    return item_features(items, encoder.encode([i.text for i in items]), config)


def lr_lambda(total_steps: int, warmup_frac: float) -> Callable[[int], float]:
    """Linear warm-up over ``warmup_frac`` of the steps, then cosine decay to 0."""
    warmup = max(1, int(total_steps * warmup_frac))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor
