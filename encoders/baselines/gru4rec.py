"""GRU4Rec (Hidasi et al., 2016) with shared input/output item embeddings and a full softmax."""

from __future__ import annotations

import torch
from torch import nn

from encoders.baselines import BaselineConfig
from encoders.model import EventTensors


class GRU4Rec(nn.Module):
    def __init__(self, config: BaselineConfig) -> None:
        super().__init__()
        self.config = config
        n = config.n_items
        self.items = nn.Embedding(n + 1, config.dim, padding_idx=n)  # row n: no item / padding
        nn.init.normal_(self.items.weight, std=0.02)
        with torch.no_grad():
            self.items.weight[n].zero_()
        self.drop = nn.Dropout(config.dropout)
        self.gru = nn.GRU(
            config.dim,
            config.dim,
            num_layers=config.layers,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )

    def item_matrix(self) -> torch.Tensor:
        return self.items.weight[: self.config.n_items]  # (N, D)

    def forward(self, ev: EventTensors) -> torch.Tensor:
        """ev (B, T) -> user vectors (B, T, D)."""
        idx = torch.where(ev.item >= 0, ev.item, self.config.n_items)
        out, _ = self.gru(self.drop(self.items(idx)))  # (B, T, D)
        return self.drop(out)  # type: ignore[no-any-return]  # nn.Module call is untyped
