"""SASRec (Kang & McAuley, 2018) as RecBole 1.2.1 implements it (``sasrec.py``, ``layers.py``).

Item embedding + learned position embedding -> LayerNorm (eps 1e-12) -> dropout -> 2 post-LN
transformer blocks (2 heads, hidden 64, feed-forward 256 with exact GELU, hidden and attention
dropout 0.5), causal attention with padding keys masked by -10000 as in RecBole; every Linear and
Embedding initialised normal(0, 0.02), biases 0. Positions are 0..T-1 over the (at most 50) most
recent events, left-aligned as RecBole's augmented sequences are.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from encoders.baselines import BaselineConfig, ItemSequenceNet


class _Block(nn.Module):
    """RecBole's TransformerLayer: attention + residual + LN, feed-forward + residual + LN."""

    def __init__(self, c: BaselineConfig) -> None:
        super().__init__()
        self.heads, self.head_dim = c.heads, c.dim // c.heads
        self.qkv = nn.ModuleList(nn.Linear(c.dim, c.dim) for _ in range(3))
        self.attn_drop = nn.Dropout(c.attn_dropout)
        self.out = nn.Linear(c.dim, c.dim)
        self.out_drop = nn.Dropout(c.p_dropout)
        self.ln1 = nn.LayerNorm(c.dim, eps=c.layer_norm_eps)
        self.ff1 = nn.Linear(c.dim, c.inner)
        self.ff2 = nn.Linear(c.inner, c.dim)
        self.ff_drop = nn.Dropout(c.p_dropout)
        self.ln2 = nn.LayerNorm(c.dim, eps=c.layer_norm_eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (lin(x).view(b, t, self.heads, self.head_dim).transpose(1, 2) for lin in self.qkv)
        att = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask  # (B, H, T, T)
        ctx = self.attn_drop(att.softmax(-1)) @ v  # (B, H, T, hd)
        h = self.ln1(self.out_drop(self.out(ctx.transpose(1, 2).reshape(b, t, d))) + x)
        f = self.ff2(nn.functional.gelu(self.ff1(h)))  # exact (erf) GELU, as RecBole's
        out: torch.Tensor = self.ln2(self.ff_drop(f) + h)
        return out


class SASRec(ItemSequenceNet):
    def __init__(self, config: BaselineConfig) -> None:
        super().__init__(config)  # the item table first (creation order sets the init)
        self.positions = nn.Embedding(config.max_len, config.dim)
        self.ln = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)
        self.drop = nn.Dropout(config.p_dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layers))
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, 0.0, self.config.init_std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` right-padded tokens (T <= max_len) -> ``(B, T, D)`` user vectors."""
        b, t = tokens.shape
        if t > self.config.max_len:
            raise ValueError(f"SASRec attends over at most {self.config.max_len} events, got {t}")
        pos = torch.arange(t, device=tokens.device).expand(b, t)
        x = self.drop(self.ln(self.items(tokens) + self.positions(pos)))  # (B, T, D)
        keep = torch.tril((tokens != 0)[:, None, None, :].expand(b, 1, t, t))  # (B, 1, T, T)
        mask = torch.where(keep, 0.0, -10000.0).to(x.dtype)
        for block in self.blocks:
            x = block(x, mask)
        out: torch.Tensor = x
        return out
