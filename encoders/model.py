"""The driftrec network: item tower + event fusion + interest LSTM, in one module.

Training runs :meth:`DriftRecModel.sequence` over padded histories; serving runs
:meth:`DriftRecModel.step_events` one event per user, or :meth:`DriftRecModel.step_ragged` each
user's new events of a micro-batch in one call. Both call the same fusion and LSTM code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from encoders.config import ModelConfig
from encoders.fusion import EventFusion, ItemTower
from encoders.interest import InterestLSTM, long_term_sequence
from encoders.readout import Readout, repeat_scores, sliding_window


@dataclass
class EventTensors:
    """A batch of events, leading shape ``(B,)`` or ``(B, T)`` (padding: item -1, mask 0)."""

    item: torch.Tensor  # (...) long catalog index, -1 = no item
    action: torch.Tensor  # (...) long
    gap_s: torch.Tensor  # (...) float
    text_vec: torch.Tensor  # (..., text_dim)
    has_text: torch.Tensor  # (...) float 0/1
    mask: torch.Tensor  # (...) bool: a real event (False = padding)

    def to(self, device: torch.device) -> EventTensors:
        return EventTensors(
            *(getattr(self, f).to(device) for f in EventTensors.__dataclass_fields__)
        )


class DriftRecModel(nn.Module):
    """``item_vectors(features (N, F), ids (N,)) -> (N, D)``; ``sequence(events (B, T), ...) ->
    (h, served) (B, T, D)``; ``step_events(...) -> (h (B, D), state (B, S))``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tower = ItemTower(config)
        self.fusion = EventFusion(config)
        self.lstm = InterestLSTM(config)
        self.readout = Readout(config)

    def item_vectors(self, features: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        vecs: torch.Tensor = self.tower(features, ids)  # (N, D)
        return vecs

    def fuse_rows(
        self,
        features: torch.Tensor,  # (..., F)
        vecs: torch.Tensor,  # (..., D)
        has_item: torch.Tensor,  # (...)
        action: torch.Tensor,
        gap_s: torch.Tensor,
        text_vec: torch.Tensor,
        has_text: torch.Tensor,
    ) -> torch.Tensor:
        """LSTM inputs from per-event item rows (zeros where there is no item): (..., D)."""
        x: torch.Tensor = self.fusion(features, vecs, has_item, action, gap_s, text_vec, has_text)
        return x

    def fuse(self, ev: EventTensors, features: torch.Tensor, vecs: torch.Tensor) -> torch.Tensor:
        """LSTM inputs gathering the catalog's features (N, F) and vectors (N, D) by ev.item."""
        has_item = (ev.item >= 0).to(features.dtype)
        idx = ev.item.clamp(min=0)
        f = features[idx] * has_item.unsqueeze(-1)  # (..., F)
        v = vecs[idx] * has_item.unsqueeze(-1)  # (..., D)
        return self.fuse_rows(f, v, has_item, ev.action, ev.gap_s, ev.text_vec, ev.has_text)

    def sequence(
        self, ev: EventTensors, features: torch.Tensor, vecs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Events (B, T), right-padded -> (h (B, T, D), served interest (B, T, D)).

        Position t of either output only depends on events 0..t, so padding after a user's last
        event never changes their real positions.
        """
        x = self.fuse(ev, features, vecs)  # (B, T, D)
        h, _ = self.lstm(x)  # (B, T, D)
        long = long_term_sequence(h, self.config)
        win = wmask = None
        if self.config.attention_window:
            has_item = ev.item >= 0
            rows = vecs[ev.item.clamp(min=0)] * has_item.unsqueeze(-1).to(vecs.dtype)  # (B, T, D)
            win, wmask = sliding_window(rows, has_item, self.config.attention_window)
        return h, self.readout(h, long, win, wmask)

    def serve(
        self,
        h: torch.Tensor,
        long: torch.Tensor,
        window: torch.Tensor | None = None,
        window_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The user vector (B, D) from h, P (B, D) and the recent window (B, W, D), (B, W)."""
        u: torch.Tensor = self.readout(h, long, window, window_mask)
        return u

    def recent_items(self, item: torch.Tensor) -> torch.Tensor | None:
        """Event items (B, T) -> per position the last ``repeat_window`` items, most recent first
        (B, T, R), -1 = none; None when the repeat bonus is off."""
        r = self.config.repeat_window
        if not r:
            return None
        win, _ = sliding_window((item + 1).unsqueeze(-1).float(), item >= 0, r)
        return win.squeeze(-1).long() - 1

    def add_repeat_bonus(self, scores: torch.Tensor, recent: torch.Tensor) -> torch.Tensor:
        """scores (P, N), recent (P, R) -> scores with the learned repeat bonus (no-op when off)."""
        bonus = self.readout.repeat_bonus()
        return scores if bonus is None else repeat_scores(scores, recent, bonus)

    def step_events(
        self, x: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused inputs (B, D), packed states (B, S) -> (h (B, D), new state (B, S))."""
        return self.lstm.step(x, state)

    def step_ragged(
        self, x: torch.Tensor, lengths: Sequence[int], state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused inputs (E, D), ``lengths[b]`` of them for user b (user-major), states (B, S) ->
        (h (E, D), each user's state after their last event (B, S)): one LSTM call."""
        return self.lstm.ragged(x, lengths, state)
