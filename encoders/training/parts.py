"""Pieces of the trainer: one module interface over driftrec and the baselines, the schedule."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from encoders.baselines import BaselineConfig
from encoders.baselines.gru4rec import GRU4Rec
from encoders.baselines.sasrec import SASRec
from encoders.config import ModelConfig
from encoders.data.folder import DataFolder
from encoders.fusion import item_features
from encoders.model import DriftRecModel, EventTensors
from encoders.textenc import TextEncoder
from encoders.training.batching import Window
from streams.messages.records import MAX_ATTRIBUTES, ItemRecord


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


def derive_model_config(
    data: DataFolder, text_dim: int, base: ModelConfig | None, item_ids: bool
) -> ModelConfig:
    """Modalities (most common width per name) and attributes present in the catalog."""
    widths: dict[str, dict[int, int]] = {}
    attrs: set[str] = set()
    for item in data.items:
        for name, vec in item.modalities.items():
            widths.setdefault(name, {}).setdefault(len(vec), 0)
            widths[name][len(vec)] += 1
        attrs.update(item.attributes)
    mods = tuple(sorted((n, max(w, key=lambda k: w[k])) for n, w in widths.items()))
    cfg = base or ModelConfig()
    return replace(
        cfg,
        text_dim=text_dim,
        modalities=cfg.modalities or mods,
        attributes=cfg.attributes or tuple(sorted(attrs))[:MAX_ATTRIBUTES],
        n_id_items=len(data.items) if item_ids else 0,
    )


def length_bucketed_batches(
    train_windows: list[Window], batch_size: int, rng: np.random.Generator
) -> list[list[int]]:
    """Shuffled batches of windows of similar length: shuffle, sort by length inside chunks of
    50 batches, cut, shuffle the batches. The LSTM runs over padding too, so this saves most of
    it while each batch stays a random draw."""
    order = rng.permutation(len(train_windows)).tolist()
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(train_windows[i].events))
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]
