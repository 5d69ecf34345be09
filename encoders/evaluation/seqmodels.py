"""The ID-based sequential baselines (GRU4Rec, SASRec) as stream models.

Both run the trained network exactly as the trainer's scorer does, one event at a time:

* GRU4Rec keeps the GRU's hidden state per user (exact: a GRU *is* a one-step recurrence);
* SASRec keeps the user's last ``max_len`` item tokens and attends over them after each event
  (positions 0..L-1 over the window, as training windows and the trainer's scorer use them).

An event without an item is the "no item" token (row ``n_items``), as in training. Catalog items
the checkpoint does not know get a zero vector (an ID model cannot score them) and are counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from encoders.baselines import BaselineConfig
from encoders.baselines.gru4rec import GRU4Rec
from encoders.baselines.sasrec import SASRec
from encoders.evaluation.base import F32, ItemIndex
from encoders.model import EventTensors
from streams.messages.records import BehaviourEvent


class _IdModel:
    def __init__(
        self,
        net: GRU4Rec | SASRec,
        config: BaselineConfig,
        model_ids: Sequence[str],
        catalog: ItemIndex,
    ) -> None:
        self.net = net.eval()
        self.config = config
        self.catalog = catalog
        own = {item_id: i for i, item_id in enumerate(model_ids)}
        # catalog row -> model token; unknown items -> the "no item" token
        self.token = np.array([own.get(i, config.n_items) for i in catalog.ids], dtype=np.int64)
        self.unknown_items = int((self.token == config.n_items).sum())
        with torch.inference_mode():
            table = net.item_matrix().float().cpu().numpy()  # (N_model, D)
        self.item_vecs = np.zeros((len(catalog), config.dim), dtype=np.float32)  # (N, D)
        known = self.token < config.n_items
        self.item_vecs[known] = table[self.token[known]]

    def _tokens(self, events: Sequence[BehaviourEvent]) -> torch.Tensor:
        rows = [
            self.config.n_items
            if e.item_id is None
            else int(self.token[self.catalog.of(e.item_id)])
            for e in events
        ]
        return torch.tensor(rows, dtype=torch.long)  # (B,)

    def scores(self, interests: F32) -> F32:
        return interests @ self.item_vecs.T  # (B, N)


class GRU4RecStream(_IdModel):
    """State row: ``[GRU hidden (layers * D) | last output (D)]``."""

    name = "gru4rec"

    def __init__(
        self, net: GRU4Rec, config: BaselineConfig, model_ids: Sequence[str], catalog: ItemIndex
    ) -> None:
        super().__init__(net, config, model_ids, catalog)
        self.gru = net
        self._hidden = config.layers * config.dim
        self.state_dim = self._hidden + config.dim

    def initial_states(self, n: int) -> F32:
        return np.zeros((n, self.state_dim), dtype=np.float32)

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        b, layers, d = len(events), self.config.layers, self.config.dim
        h0 = torch.from_numpy(np.ascontiguousarray(states[:, : self._hidden]))
        h0 = h0.view(b, layers, d).transpose(0, 1).contiguous()  # (layers, B, D)
        with torch.inference_mode():
            x = self.gru.items(self._tokens(events)).unsqueeze(1)  # (B, 1, D)
            out, hn = self.gru.gru(x, h0)  # (B, 1, D), (layers, B, D)
        new = np.empty_like(states)
        new[:, : self._hidden] = hn.transpose(0, 1).reshape(b, -1).numpy()
        new[:, self._hidden :] = out[:, 0].numpy()
        return new

    def interest(self, states: F32) -> F32:
        return np.ascontiguousarray(states[:, self._hidden :])  # (B, D)


class SASRecStream(_IdModel):
    """State row: ``[count (1) | last max_len tokens, oldest first (L)]``."""

    name = "sasrec"

    def __init__(
        self, net: SASRec, config: BaselineConfig, model_ids: Sequence[str], catalog: ItemIndex
    ) -> None:
        super().__init__(net, config, model_ids, catalog)
        self.sasrec = net
        self.state_dim = 1 + config.max_len

    def initial_states(self, n: int) -> F32:
        return np.zeros((n, self.state_dim), dtype=np.float32)

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        new = states.copy()
        tokens = self._tokens(events).numpy()
        for r, token in enumerate(tokens):
            count = int(states[r, 0])
            if count < self.config.max_len:
                new[r, 1 + count] = token
            else:  # window full: drop the oldest
                new[r, 1:-1] = states[r, 2:]
                new[r, -1] = token
            new[r, 0] = count + 1
        return new

    def interest(self, states: F32) -> F32:
        lengths = np.minimum(states[:, 0].astype(np.int64), self.config.max_len)  # (B,)
        out = np.zeros((len(states), self.config.dim), dtype=np.float32)
        rows = np.nonzero(lengths > 0)[0]
        if not len(rows):
            return out
        t = int(lengths[rows].max())
        item = torch.from_numpy(states[rows, 1 : 1 + t].astype(np.int64))  # (B', T)
        pad = torch.arange(t).unsqueeze(0) >= torch.from_numpy(lengths[rows]).unsqueeze(1)
        item[pad] = -1  # right padding; the causal mask keeps it out of real positions
        b = len(rows)
        ev = EventTensors(
            item,
            torch.zeros((b, t), dtype=torch.long),
            torch.zeros((b, t)),
            torch.zeros((b, t, 1)),
            torch.zeros((b, t)),
            ~pad,
        )
        with torch.inference_mode():
            users = self.sasrec(ev)  # (B', T, D)
        last = torch.from_numpy(lengths[rows] - 1)
        out[rows] = users[torch.arange(b), last].float().numpy()
        return out
