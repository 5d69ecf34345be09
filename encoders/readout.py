"""The read-out: from the LSTM output, the long-term interest and the recent-event window to the
user vector that scores the catalog, plus the repeat bonus of recently seen items.

Contract (any leading shape ``...``; W = ``ModelConfig.attention_window``, R =
``ModelConfig.repeat_window``):

* ``Readout(h (..., D), long (..., D), window (..., W, D), window_mask (..., W)) -> u (..., D)``.
  ``window[..., k, :]`` is the item-tower vector of the k-th most recent event (k = 0: the event
  just applied), zeros and mask False where that event has no item or does not exist.
* The mix ``w·h + (1 - w)·P`` uses ``short_weight`` or, with ``learn_mix``, a learned w.
  ``scoring="cosine"``: each part L2-normalised and the sum normalised again (training divides the
  logits by a temperature); ``scoring="dot"``: raw vectors, plain inner products.
* With W > 0 an attention read-out over the window is added: query from h, keys and values the
  window's item vectors, a learned bias per recency slot. Work per event is O(W·D), independent of
  the history length; the window is the one a stored profile already keeps.
* ``repeat_bonus() -> (R,)``: a learned score added to an item seen k events ago (k < R; the most
  recent occurrence counts). It only changes lists where history items are not excluded.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from encoders.config import ModelConfig


class Readout(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        w = min(max(config.short_weight, 1e-3), 1.0 - 1e-3)
        self.mix_logit = (
            nn.Parameter(torch.tensor(math.log(w / (1.0 - w)))) if config.learn_mix else None
        )
        d, win = config.dim, config.attention_window
        self.query = nn.Linear(d, d, bias=False) if win else None
        self.slot_bias = nn.Parameter(torch.zeros(win)) if win else None
        self.value = nn.Linear(d, d) if win else None
        if self.value is not None:
            # Starts as the plain mix: the attention term grows only as far as it helps.
            nn.init.zeros_(self.value.weight)
            nn.init.zeros_(self.value.bias)
        self.repeat = (
            nn.Parameter(torch.zeros(config.repeat_window)) if config.repeat_window else None
        )

    def short_weight(self) -> torch.Tensor:
        if self.mix_logit is None:
            return torch.tensor(self.config.short_weight)
        return torch.sigmoid(self.mix_logit)

    def forward(
        self,
        h: torch.Tensor,
        long: torch.Tensor,
        window: torch.Tensor | None = None,
        window_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        w = self.short_weight().to(h.dtype)
        cosine = self.config.scoring == "cosine"
        norm = nn.functional.normalize
        if cosine:
            u = w * norm(h, dim=-1) + (1.0 - w) * norm(long, dim=-1)
        else:
            u = w * h + (1.0 - w) * long
        if self.query is not None and window is not None and window_mask is not None:
            assert self.slot_bias is not None and self.value is not None
            q = self.query(h).unsqueeze(-1)  # (..., D, 1)
            logits = (window @ q).squeeze(-1) / math.sqrt(self.config.dim)  # (..., W)
            logits = logits + self.slot_bias
            logits = logits.masked_fill(~window_mask, -1e9)
            alpha = torch.softmax(logits, dim=-1) * window_mask.to(h.dtype)  # all-masked: zeros
            read = (alpha.unsqueeze(-1) * window).sum(dim=-2)  # (..., D)
            u = u + self.value(read)
        return norm(u, dim=-1) if cosine else u

    def repeat_bonus(self) -> torch.Tensor | None:
        """(R,) score added to an item last seen k events ago; None when off."""
        return None if self.repeat is None else self.repeat


def sliding_window(
    x: torch.Tensor, mask: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per position, the last ``size`` rows, most recent first: x (B, T, D), mask (B, T) ->
    (B, T, size, D), (B, T, size) (positions before the start: zeros, mask False)."""
    b, _, d = x.shape
    xp = torch.cat([x.new_zeros(b, size - 1, d), x], dim=1)  # (B, T+size-1, D)
    mp = torch.cat([mask.new_zeros(b, size - 1), mask], dim=1)
    win = xp.unfold(1, size, 1).permute(0, 1, 3, 2).flip(2)  # (B, T, size, D)
    wmask = mp.unfold(1, size, 1).flip(2)  # (B, T, size)
    return win, wmask


def repeat_scores(scores: torch.Tensor, recent: torch.Tensor, bonus: torch.Tensor) -> torch.Tensor:
    """scores (P, N), recent (P, R) catalog indices of the last R events' items, most recent first
    (-1 = none), bonus (R,) -> scores with each recent item's bonus added once (its most recent
    slot)."""
    r = recent.shape[1]
    valid = recent >= 0  # (P, R)
    # An item also at a more recent slot gets its bonus there, not again here.
    same = recent.unsqueeze(2) == recent.unsqueeze(1)  # (P, R, R) [p, k, j]
    earlier = torch.ones(r, r, dtype=torch.bool, device=recent.device).tril(-1)  # j < k
    dup = (same & earlier).any(dim=2)
    keep = valid & ~dup
    src = bonus.unsqueeze(0).expand_as(recent).to(scores.dtype) * keep.to(scores.dtype)
    return scores.scatter_add(1, recent.clamp(min=0), src)
