"""ID-based sequential baselines trained by the same trainer as driftrec: GRU4Rec and SASRec.

Both see only the sequence of item ids (an event without an item is a "no item" token), no text,
actions or time gaps: they are the honest "strong sequential model without language" yardstick.
Contract, as for driftrec: ``item_matrix() -> (N, D)``, ``forward(ev (B, T)) -> (B, T, D)`` user
vectors after each position; score = inner product.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from encoders.config import ConfigError

BASELINES = ("gru4rec", "sasrec")


@dataclass(frozen=True)
class BaselineConfig:
    kind: str
    #: Catalog size N (embedding rows; one more row is the "no item" / padding token).
    n_items: int
    dim: int = 64
    #: GRU layers (gru4rec) or self-attention blocks (sasrec; 2 as in the SASRec paper).
    layers: int = 2
    heads: int = 1
    dropout: float = 0.2
    #: Longest history SASRec attends over (its learned positions); GRU4Rec has no limit.
    max_len: int = 50

    def __post_init__(self) -> None:
        if self.kind not in BASELINES:
            raise ConfigError(f"kind must be one of {BASELINES}, got {self.kind!r}")
        for name in ("n_items", "dim", "layers", "heads", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if self.dim % self.heads:
            raise ConfigError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> BaselineConfig:
        return cls(**obj)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)
