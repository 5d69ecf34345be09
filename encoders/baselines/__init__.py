"""ID-based sequential baselines at reference strength: RecBole 1.2.1's GRU4Rec and SASRec.

Both see only the sequence of item ids (an event without an item is a "no item" token), no text,
actions or time gaps: they are the honest "strong sequential model without language" yardstick.
Defaults are RecBole 1.2.1's (``recbole/properties/model/{GRU4Rec,SASRec}.yaml``), and so is the
architecture, line by line (see docs/evaluation.md for the cross-check against RecBole itself).

Token layout, as in RecBole: row 0 of the item table is padding, rows ``1..N`` are the catalog
items in catalog order; driftrec adds row ``N + 1`` for an event without an item (RecBole has no
such event). Contract, as for driftrec: ``item_matrix() -> (N, D)``, ``forward(ev (B, T)) ->
(B, T, D)`` user vectors after each position; score = inner product.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from encoders.config import ConfigError
from encoders.model import EventTensors

BASELINES = ("gru4rec", "sasrec")
#: RecBole's MAX_ITEM_LIST_LENGTH: both models see at most the last 50 events.
MAX_LEN = 50
#: Per-kind defaults (RecBole 1.2.1); a field left at None takes its kind's value.
_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "gru4rec": {"layers": 1, "dropout": 0.3},
    "sasrec": {"layers": 2, "dropout": 0.5},
}


@dataclass(frozen=True)
class BaselineConfig:
    kind: str
    #: Catalog size N (item rows 1..N; row 0 padding, row N + 1 "no item").
    n_items: int
    #: Item embedding size (both), also SASRec's hidden size.
    dim: int = 64
    #: GRU4Rec's GRU hidden size (a dense layer maps it back to ``dim``).
    hidden: int = 128
    #: GRU layers (gru4rec: 1) or transformer blocks (sasrec: 2).
    layers: int | None = None
    #: SASRec attention heads and feed-forward inner size.
    heads: int = 2
    inner: int = 256
    #: gru4rec: embedding dropout (0.3); sasrec: hidden dropout (0.5).
    dropout: float | None = None
    #: SASRec attention-probability dropout.
    attn_dropout: float = 0.5
    layer_norm_eps: float = 1e-12
    #: Standard deviation of SASRec's normal initialisation.
    init_std: float = 0.02
    #: Longest history either model sees (SASRec's learned positions).
    max_len: int = MAX_LEN

    def __post_init__(self) -> None:
        if self.kind not in BASELINES:
            raise ConfigError(f"kind must be one of {BASELINES}, got {self.kind!r}")
        for name, value in _KIND_DEFAULTS[self.kind].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        for name in ("n_items", "dim", "hidden", "layers", "heads", "inner", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if self.dim % self.heads:
            raise ConfigError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        for name in ("dropout", "attn_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {value!r}")

    @property
    def n_layers(self) -> int:
        assert self.layers is not None  # set in __post_init__
        return self.layers

    @property
    def p_dropout(self) -> float:
        assert self.dropout is not None  # set in __post_init__
        return self.dropout

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> BaselineConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(obj) - known)
        if unknown or "hidden" not in obj:
            raise ConfigError(
                f"baseline config from an older architecture (fields {unknown or 'missing'}): "
                "retrain it with `driftrec train --model gru4rec|sasrec`"
            )
        return cls(**obj)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


def tokens_of(ev: EventTensors, n_items: int) -> torch.Tensor:
    """``(B, T)`` token ids: catalog index + 1, ``n_items + 1`` for no item, 0 for padding."""
    tok = torch.where(ev.item >= 0, ev.item + 1, n_items + 1)
    return torch.where(ev.mask, tok, 0)


class ItemSequenceNet(nn.Module):
    """What both baselines share: the item table (token layout above), its catalog rows as the
    item vectors, and ``forward`` = :meth:`encode` of the events' tokens."""

    def __init__(self, config: BaselineConfig) -> None:
        super().__init__()
        self.config = config
        self.items = nn.Embedding(config.n_items + 2, config.dim, padding_idx=0)

    def item_matrix(self) -> torch.Tensor:
        return self.items.weight[1 : self.config.n_items + 1]  # (N, D)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` right-padded tokens -> ``(B, T, D)`` user vectors."""
        raise NotImplementedError

    def forward(self, ev: EventTensors) -> torch.Tensor:
        """ev (B, T) -> user vectors (B, T, D) after each position."""
        return self.encode(tokens_of(ev, self.config.n_items))


def gather_last(out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``(B, T, D)`` outputs, ``(B,)`` lengths -> ``(B, D)`` output at each last real position."""
    return out[torch.arange(out.shape[0], device=out.device), lengths - 1]
