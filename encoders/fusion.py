"""Multimodal fusion: item features, the item tower, and the fused LSTM input of one event.

* :func:`item_features` lays an item out as one float vector of width F
  (``ModelConfig.feature_dim``): ``[text (text_dim) | modality_1 .. modality_M |
  modality masks (M) | attributes (A) | attribute masks (A)]``.
  A missing (or wrongly sized) modality or attribute is zeros with mask 0: the model sees "absent",
  never a fake value.
* :class:`ItemTower` maps features (+ an optional item-ID embedding) into the interest space, D.
* :class:`EventFusion` fuses, per event, the item's features and tower vector, an action embedding,
  log time-gap features and the event's own free-text vector (each with a presence mask) into the
  LSTM input, of width ``ModelConfig.dim``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from encoders.config import ModelConfig
from streams.messages.records import ItemRecord

log = logging.getLogger(__name__)

#: Centres (seconds) of the time-gap bumps: now, a minute, an hour, a day, a week, a month.
#: Behaviour changes character at these scales (same session, same day, a return visit...).
GAP_CENTRES_S: tuple[float, ...] = (0.0, 60.0, 3_600.0, 86_400.0, 604_800.0, 2_592_000.0)
GAP_DIM = 1 + len(GAP_CENTRES_S)


def signed_log(x: float) -> float:
    """sign(x)·log1p(|x|): keeps prices and counts of any size in a range a network can use."""
    return math.copysign(math.log1p(abs(x)), x)


def item_features(
    items: Sequence[ItemRecord], text_vecs: npt.NDArray[np.float32], config: ModelConfig
) -> npt.NDArray[np.float32]:
    """``(N, F)`` features of ``items`` given their text vectors ``(N, text_dim)``."""
    n = len(items)
    if text_vecs.shape != (n, config.text_dim):
        raise ValueError(f"text vectors {text_vecs.shape} do not match ({n}, {config.text_dim})")
    out = np.zeros((n, config.feature_dim), dtype=np.float32)
    out[:, : config.text_dim] = text_vecs
    col = config.text_dim
    mask_col = col + sum(w for _, w in config.modalities)
    for m, (name, width) in enumerate(config.modalities):
        for row, item in enumerate(items):
            vec = item.modalities.get(name)
            if vec is None:
                continue
            if len(vec) != width:
                log.warning(
                    "item %s: modality %r has %d values, model expects %d; masked",
                    item.item_id,
                    name,
                    len(vec),
                    width,
                )
                continue
            out[row, col : col + width] = vec
            out[row, mask_col + m] = 1.0
        col += width
    attr_col = mask_col + len(config.modalities)
    n_attr = len(config.attributes)
    for a, name in enumerate(config.attributes):
        for row, item in enumerate(items):
            value = item.attributes.get(name)
            if value is not None:
                out[row, attr_col + a] = signed_log(value)
                out[row, attr_col + n_attr + a] = 1.0
    return out


def gap_features(gap_s: torch.Tensor) -> torch.Tensor:
    """``(...,)`` seconds since the previous event -> ``(..., GAP_DIM)``: log1p(gap)/10 and soft
    one-hot bumps on the log scale around :data:`GAP_CENTRES_S`."""
    g = torch.log1p(gap_s.clamp(min=0.0)).unsqueeze(-1)  # (..., 1)
    centres = torch.log1p(torch.tensor(GAP_CENTRES_S, dtype=g.dtype, device=g.device))
    bumps = torch.exp(-0.5 * ((g - centres) / 1.5) ** 2)  # (..., len(centres))
    return torch.cat([g / 10.0, bumps], dim=-1)


class ItemTower(nn.Module):
    """features ``(..., F)`` [+ ID index ``(...,)``] -> item vector ``(..., D)``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.mlp = nn.Sequential(
            nn.Linear(config.feature_dim, 2 * config.dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(2 * config.dim, config.dim),
        )
        # Row n_id_items is "unknown item": padding_idx keeps it at zero (content only).
        self.ids = (
            nn.Embedding(config.n_id_items + 1, config.dim, padding_idx=config.n_id_items)
            if config.n_id_items
            else None
        )
        if self.ids is not None:
            nn.init.normal_(self.ids.weight, std=0.02)
            with torch.no_grad():
                self.ids.weight[config.n_id_items].zero_()

    def forward(self, features: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        vec: torch.Tensor = self.mlp(features)  # (..., D)
        if self.ids is not None and ids is not None:
            unknown = (ids < 0) | (ids >= self.config.n_id_items)
            vec = vec + self.ids(torch.where(unknown, self.config.n_id_items, ids))
        return vec


class EventFusion(nn.Module):
    """Fuses one event's parts into the LSTM input ``(..., D)`` (any leading shape)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.actions = nn.Embedding(config.n_actions, config.action_dim)
        self.item_proj = nn.Linear(config.feature_dim, config.dim)
        self.text_proj = nn.Linear(config.text_dim, config.dim)
        width = 3 * config.dim + config.action_dim + GAP_DIM + 2  # + has_item, has_text
        self.out = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(width, config.dim), nn.LayerNorm(config.dim)
        )

    def forward(
        self,
        features: torch.Tensor,  # (..., F), zeros when the event has no item
        item_vec: torch.Tensor,  # (..., D), zeros when the event has no item
        has_item: torch.Tensor,  # (...,) float 0/1
        action: torch.Tensor,  # (...,) long
        gap_s: torch.Tensor,  # (...,) float seconds
        text_vec: torch.Tensor,  # (..., text_dim), zeros when the event has no free text
        has_text: torch.Tensor,  # (...,) float 0/1
    ) -> torch.Tensor:
        hi = has_item.unsqueeze(-1)
        ht = has_text.unsqueeze(-1)
        parts = [
            self.item_proj(features) * hi,  # masked: an absent item contributes nothing, not a bias
            item_vec * hi,
            self.text_proj(text_vec) * ht,
            self.actions(action),
            gap_features(gap_s),
            hi,
            ht,
        ]
        fused: torch.Tensor = self.out(torch.cat(parts, dim=-1))  # (..., D)
        return fused
