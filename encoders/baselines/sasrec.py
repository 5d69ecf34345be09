"""SASRec (Kang & McAuley, 2018): causal self-attention over item sequences, shared embeddings."""

from __future__ import annotations

import math

import torch
from torch import nn

from encoders.baselines import BaselineConfig
from encoders.model import EventTensors


class SASRec(nn.Module):
    def __init__(self, config: BaselineConfig) -> None:
        super().__init__()
        self.config = config
        n = config.n_items
        self.items = nn.Embedding(n + 1, config.dim, padding_idx=n)  # row n: no item / padding
        nn.init.normal_(self.items.weight, std=0.02)
        with torch.no_grad():
            self.items.weight[n].zero_()
        self.positions = nn.Embedding(config.max_len, config.dim)
        self.drop = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(
            config.dim,
            config.heads,
            dim_feedforward=config.dim,
            dropout=config.dropout,
            activation="relu",
            batch_first=True,
            norm_first=True,  # pre-LN, as the reference implementation
        )
        self.blocks = nn.TransformerEncoder(
            layer, config.layers, norm=nn.LayerNorm(config.dim), enable_nested_tensor=False
        )

    def item_matrix(self) -> torch.Tensor:
        return self.items.weight[: self.config.n_items]  # (N, D)

    def forward(self, ev: EventTensors) -> torch.Tensor:
        """ev (B, T) with T <= max_len, right-padded -> user vectors (B, T, D)."""
        b, t = ev.item.shape
        if t > self.config.max_len:
            raise ValueError(f"SASRec attends over at most {self.config.max_len} events, got {t}")
        idx = torch.where(ev.item >= 0, ev.item, self.config.n_items)
        pos = torch.arange(t, device=idx.device).expand(b, t)
        x = self.items(idx) * math.sqrt(self.config.dim) + self.positions(pos)  # (B, T, D)
        causal = nn.Transformer.generate_square_subsequent_mask(t, device=idx.device)
        # Right padding + a causal mask: a real position only attends to earlier real ones.
        out: torch.Tensor = self.blocks(self.drop(x), mask=causal, is_causal=True)
        return out
