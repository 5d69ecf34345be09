"""From behaviour events to padded tensors: the catalog index, windows, and next-item targets.

A user's sequence of T events becomes :class:`~encoders.model.EventTensors` of shape (T,) plus a
``targets`` row: ``targets[t]`` is the catalog index of the item of event t+1 (-1 when event t+1 has
no item or does not exist). Long sequences are cut into consecutive windows of at most ``max_len``
events, so every next-item pair is trained on exactly once (the latest pairs get the longest
context); gaps are always measured to the previous event of the *whole* sequence, as serving sees
them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from encoders.data.catalog import CatalogOrder
from encoders.data.folder import DataFolder
from encoders.model import EventTensors
from streams.messages.records import ACTIONS, BehaviourEvent

_ACTION_INDEX = {a: i for i, a in enumerate(ACTIONS)}
TextLookup = Callable[[str], npt.NDArray[np.float32]]


class Catalog(CatalogOrder):
    """The catalog order of training: an item outside it counts as no item."""

    def of(self, item_id: str | None) -> int:
        """Catalog index, -1 for no item or an item the catalog does not know."""
        return -1 if item_id is None else self.index.get(item_id, -1)


def data_fingerprint(data: DataFolder) -> str:
    """A content hash of a data folder's records (order included): ``sha256:<16 hex>``."""
    h = hashlib.sha256()
    for rec in [*(i.to_json() for i in data.items), *(e.to_json() for e in data.events)]:
        h.update(json.dumps(rec, sort_keys=True, separators=(",", ":")).encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()[:16]


def gaps_seconds(events: Sequence[BehaviourEvent]) -> list[float]:
    """Seconds since the previous event of the same sequence (0.0 for the first)."""
    return [0.0] + [max(b.ts - a.ts, 0.0) for a, b in itertools.pairwise(events)]


@dataclass
class Window:
    """One training sequence: events[start:end] of a user, with their whole-sequence gaps."""

    events: Sequence[BehaviourEvent]
    gaps: Sequence[float]
    targets: Sequence[int]  # (T,) catalog index of the next event's item, -1 = none


def windows(events: Sequence[BehaviourEvent], catalog: Catalog, max_len: int) -> list[Window]:
    """Cut one user's time-ordered events into training windows (the latest window first)."""
    gaps = gaps_seconds(events)
    nxt = [catalog.of(e.item_id) for e in events[1:]] + [-1]
    out: list[Window] = []
    end = len(events)
    while end > 1:  # a window needs an input event and a later target
        start = max(0, end - max_len)
        tgt = nxt[start:end]
        if any(t >= 0 for t in tgt):
            out.append(Window(events[start:end], gaps[start:end], tgt))
        if start == 0:
            break
        end = start
    return out


def collate(
    seqs: Sequence[Sequence[BehaviourEvent]],
    gaps: Sequence[Sequence[float]],
    catalog: Catalog,
    text_dim: int,
    text_lookup: TextLookup | None,
) -> EventTensors:
    """Right-padded ``EventTensors`` (B, T) for sequences of events (T = the longest)."""
    b, t = len(seqs), max((len(s) for s in seqs), default=0)
    item = torch.full((b, t), -1, dtype=torch.long)
    action = torch.zeros((b, t), dtype=torch.long)
    gap = torch.zeros((b, t))
    text_vec = torch.zeros((b, t, text_dim))
    has_text = torch.zeros((b, t))
    mask = torch.zeros((b, t), dtype=torch.bool)
    for r, (seq, g) in enumerate(zip(seqs, gaps, strict=True)):
        n = len(seq)
        item[r, :n] = torch.tensor([catalog.of(e.item_id) for e in seq], dtype=torch.long)
        action[r, :n] = torch.tensor([_ACTION_INDEX[e.action] for e in seq], dtype=torch.long)
        gap[r, :n] = torch.tensor(list(g), dtype=torch.float32)
        mask[r, :n] = True
        if text_lookup is not None:
            for c, e in enumerate(seq):
                if e.text:
                    text_vec[r, c] = torch.from_numpy(text_lookup(e.text))
                    has_text[r, c] = 1.0
    return EventTensors(item, action, gap, text_vec, has_text, mask)


def collate_windows(
    batch: Sequence[Window], catalog: Catalog, text_dim: int, text_lookup: TextLookup | None
) -> tuple[EventTensors, torch.Tensor]:
    """``(EventTensors (B, T), targets (B, T))`` for a batch of windows (-1 = no target)."""
    ev = collate([w.events for w in batch], [w.gaps for w in batch], catalog, text_dim, text_lookup)
    targets = torch.full(ev.item.shape, -1, dtype=torch.long)
    for r, w in enumerate(batch):
        targets[r, : len(w.targets)] = torch.tensor(list(w.targets), dtype=torch.long)
    return ev, targets
