"""The ID-based sequential baselines (GRU4Rec, SASRec) as stream models.

Both run the trained network exactly as the trainer's scorer and RecBole do: the state keeps the
user's last ``max_len`` tokens (RecBole's MAX_ITEM_LIST_LENGTH, 50), and after each event the
network reads that window (left-aligned, positions 0..L-1) and its last position is the user
vector. GRU4Rec therefore restarts from the window's first event, as RecBole's augmented
sequences do, rather than carrying a hidden state over the whole history.

An event without an item is the "no item" token (``N + 1``), as in training. Catalog items the
checkpoint does not know get a zero vector (an ID model cannot score them) and are counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from encoders.baselines import BaselineConfig, gather_last
from encoders.baselines.gru4rec import GRU4Rec
from encoders.baselines.sasrec import SASRec
from encoders.evaluation.base import F32, ItemIndex
from streams.messages.records import BehaviourEvent


class WindowStream:
    """State row: ``[count (1) | last max_len tokens, oldest first (L)]``."""

    def __init__(
        self,
        net: GRU4Rec | SASRec,
        config: BaselineConfig,
        model_ids: Sequence[str],
        catalog: ItemIndex,
    ) -> None:
        self.name = config.kind
        self.net = net.eval()
        self.config = config
        self.catalog = catalog
        no_item = config.n_items + 1
        own = {item_id: i + 1 for i, item_id in enumerate(model_ids)}
        # catalog row -> model token; unknown items -> the "no item" token
        self.token = np.array([own.get(i, no_item) for i in catalog.ids], dtype=np.int64)
        self.unknown_items = int((self.token == no_item).sum())
        with torch.inference_mode():
            table = net.item_matrix().float().cpu().numpy()  # (N_model, D)
        self.item_vecs = np.zeros((len(catalog), config.dim), dtype=np.float32)  # (N, D)
        known = self.token < no_item
        self.item_vecs[known] = table[self.token[known] - 1]
        self.state_dim = 1 + config.max_len

    def initial_states(self, n: int) -> F32:
        return np.zeros((n, self.state_dim), dtype=np.float32)

    def _tokens(self, events: Sequence[BehaviourEvent]) -> list[int]:
        no_item = self.config.n_items + 1
        return [
            no_item if e.item_id is None else int(self.token[self.catalog.of(e.item_id)])
            for e in events
        ]

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        new = states.copy()
        for r, token in enumerate(self._tokens(events)):
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
        tokens = states[rows, 1 : 1 + t].astype(np.int64)  # (B', T); float32 exact below 2**24
        tokens[np.arange(t)[None, :] >= lengths[rows][:, None]] = 0  # right padding
        with torch.inference_mode():
            users = self.net.encode(torch.from_numpy(tokens))  # (B', T, D)
            last = gather_last(users, torch.from_numpy(lengths[rows]))
        out[rows] = last.float().numpy()
        return out

    def scores(self, interests: F32) -> F32:
        return interests @ self.item_vecs.T  # (B, N)
