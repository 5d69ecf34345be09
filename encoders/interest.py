"""The interest LSTM and the long-/short-term interest arithmetic.

Contract:

* ``InterestLSTM.step(x (B, D), state (B, S)) -> (h (B, D), state (B, S))``: one event per user;
* ``InterestLSTM.forward(x (B, T, D), state | None) -> (h (B, T, D), state (B, S))``: a sequence;
* ``InterestLSTM.ragged(x (E, D), lengths (B,), state (B, S)) -> (h (E, D), state (B, S))``: each
  user's new events (E = sum of lengths, user-major) continue that user's state in one packed call;
  all run the same ``nn.LSTM`` weights, so stepping a sequence event by event gives the sequence
  forward's h (tested to 1e-5).
* Long-term interest P_u after n events: running mean of h (``"mean"``: P = (1/n) Σ h_i) or an EMA
  with a half-life in events (``"ema"``); :func:`update_long_term` is the one-event form,
  :func:`long_term_sequence` the whole-sequence form used in training (same numbers).
* Served interest: ``normalize(w·normalize(h) + (1 - w)·normalize(P))`` with w = ``short_weight``.

The packed state is ``[h | c]``: S = 2·D floats, the form a profile stores.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from encoders.config import ModelConfig


def pack_state(h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """(B, D), (B, D) -> (B, 2D)."""
    return torch.cat([h, c], dim=-1)


def unpack_state(state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2D) -> (h (1, B, D), c (1, B, D)), the layout nn.LSTM wants."""
    h, c = state.chunk(2, dim=-1)
    return h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()


class InterestLSTM(nn.Module):
    """One-layer LSTM over fused event inputs; hidden state = short-term interest."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.lstm = nn.LSTM(config.dim, config.dim, num_layers=1, batch_first=True)

    def initial_state(self, batch: int, device: torch.device | None = None) -> torch.Tensor:
        return torch.zeros(batch, self.config.state_dim, device=device)  # (B, S)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, D) -> (h (B, T, D), final state (B, S))."""
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        out, (h, c) = self.lstm(x, unpack_state(state))  # out (B, T, D)
        return out, pack_state(h[0], c[0])

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, D), state (B, S) -> (h (B, D), new state (B, S))."""
        out, new_state = self.forward(x.unsqueeze(1), state)
        return out[:, 0], new_state

    def ragged(
        self, x: torch.Tensor, lengths: Sequence[int], state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (E, D): ``lengths[b]`` events of user b after those of user b-1; state (B, S) ->
        (h (E, D) in the same order, each user's state after their last event (B, S)).

        One LSTM call: the events are right-padded to (B, T, D) and packed, so padding never
        enters a user's state (nn.LSTM returns each row's state at its own last real event).
        """
        if any(n < 1 for n in lengths) or sum(lengths) != x.shape[0]:
            raise ValueError(f"lengths {list(lengths)[:8]} do not split {x.shape[0]} events")
        if max(lengths, default=0) == 1:
            return self.step(x, state)
        lens = torch.tensor(list(lengths), dtype=torch.long)
        real = torch.arange(int(lens.max())).unsqueeze(0) < lens.unsqueeze(1)  # (B, T)
        real = real.to(x.device)
        padded = x.new_zeros(len(lengths), real.shape[1], x.shape[1])  # (B, T, D)
        padded[real] = x  # boolean indexing is row-major: user-major, like x
        packed = pack_padded_sequence(padded, lens, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.lstm(packed, unpack_state(state))
        out_padded, _ = pad_packed_sequence(out, batch_first=True, total_length=real.shape[1])
        return out_padded[real], pack_state(h[0], c[0])


def ema_decay(config: ModelConfig) -> float:
    """Per-event weight kept by the old long-term interest under the EMA half-life."""
    return float(0.5 ** (1.0 / config.half_life_events))


def update_long_term(
    long: torch.Tensor, count: torch.Tensor, h: torch.Tensor, config: ModelConfig
) -> torch.Tensor:
    """long (B, D), count (B,) events applied before this one, h (B, D) -> new long (B, D).

    The first event (count 0) sets P = h under either rule.
    """
    n = count.to(h.dtype).unsqueeze(-1)  # (B, 1)
    if config.long_term == "mean":
        return long + (h - long) / (n + 1.0)
    decay = ema_decay(config)
    return torch.where(n > 0, decay * long + (1.0 - decay) * h, h)


def long_term_sequence(h: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """h (B, T, D) -> P (B, T, D), P[:, t] = long-term interest after events 0..t."""
    if config.long_term == "mean":
        steps = torch.arange(1, h.shape[1] + 1, device=h.device, dtype=h.dtype)
        return h.cumsum(dim=1) / steps.view(1, -1, 1)
    decay = ema_decay(config)
    out = []
    long = h[:, 0]
    for t in range(h.shape[1]):
        long = h[:, 0] if t == 0 else decay * long + (1.0 - decay) * h[:, t]
        out.append(long)
    return torch.stack(out, dim=1)


def served_interest(h: torch.Tensor, long: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """(..., D), (..., D) -> L2-normalised mix of short- and long-term interest (..., D)."""
    w = config.short_weight
    norm = nn.functional.normalize
    return norm(w * norm(h, dim=-1) + (1.0 - w) * norm(long, dim=-1), dim=-1)
