"""RecBole's sequential data augmentation: every prefix of a training sequence is one sample.

A user's training events ``e1 .. eL`` give the samples ``<e1> -> e2``, ``<e1, e2> -> e3``, ...,
each input cut to its last ``max_len`` events (RecBole's ``data_augmentation`` with
MAX_ITEM_LIST_LENGTH), left-aligned and right-padded with token 0. Only item events are targets;
an event without an item is an input token (``N + 1``) only. Samples live as index ranges into one
token array, so an epoch over ~400k samples builds its batches with numpy, not Python loops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PrefixSamples:
    tokens: I64  # (E,) every user's tokens, users concatenated
    starts: I64  # (S,) index of each sample's first input token
    ends: I64  # (S,) index of each sample's target token (inputs are starts..ends-1)

    def __len__(self) -> int:
        return len(self.ends)

    def batch(self, rows: I64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(tokens (B, T), lengths (B,), targets (B,))``; targets are catalog indices."""
        starts, ends = self.starts[rows], self.ends[rows]
        lengths = ends - starts
        cols = np.arange(int(lengths.max()))
        idx = starts[:, None] + cols[None, :]  # (B, T)
        valid = cols[None, :] < lengths[:, None]
        x = np.where(valid, self.tokens[np.where(valid, idx, 0)], 0)
        return (
            torch.from_numpy(x),
            torch.from_numpy(lengths),
            torch.from_numpy(self.tokens[ends] - 1),
        )


def prefix_samples(sequences: Iterable[Sequence[int]], n_items: int, max_len: int) -> PrefixSamples:
    """Samples from per-user catalog-index sequences (-1 = an event without an item)."""
    parts: list[I64] = []
    starts: list[I64] = []
    ends: list[I64] = []
    offset = 0
    for seq in sequences:
        idx = np.asarray(seq, dtype=np.int64)
        tok = np.where(idx >= 0, idx + 1, n_items + 1)
        targets = np.nonzero(idx[1:] >= 0)[0] + 1  # positions j >= 1 holding an item
        parts.append(tok)
        ends.append(offset + targets)
        starts.append(offset + np.maximum(targets - max_len, 0))
        offset += len(tok)
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return PrefixSamples(empty, empty, empty)
    return PrefixSamples(np.concatenate(parts), np.concatenate(starts), np.concatenate(ends))
