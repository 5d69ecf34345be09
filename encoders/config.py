"""Model hyper-parameters: one frozen dataclass, validated on construction, saved in checkpoints."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from streams.messages.records import ACTIONS

#: Longest recent-event window a read-out may use (a stored profile keeps 20 events by default).
MAX_WINDOW = 20


class ConfigError(ValueError):
    """A model configuration value is invalid (the message names the field and the value)."""


@dataclass(frozen=True)
class ModelConfig:
    """The driftrec interest model: fusion + item tower + one-layer LSTM + long-term mix.

    Dimensions: F (item feature width) = ``text_dim + Σ modality dims + #modalities (masks) +
    2·#attributes (value, mask)``; D = ``dim`` = LSTM hidden = interest = item-vector width; the
    packed LSTM state is S = 2·D floats (h and c).
    """

    #: Width of the text encoder's vectors (all-MiniLM-L6-v2, the default encoder: 384).
    text_dim: int = 384
    #: D. 64 keeps a stored profile (state 2·D + long-term D + last published D floats, plus a
    #: recent-event window) under 2 KiB; larger buys little on catalogs of a few thousand items.
    dim: int = 64
    action_dim: int = 16
    #: Size of the action vocabulary (streams.messages.records.ACTIONS; an event's action_index).
    n_actions: int = len(ACTIONS)
    #: Optional item modality vectors as (name, width), e.g. (("image", 32),); missing ones masked.
    modalities: tuple[tuple[str, int], ...] = ()
    #: Optional numeric item attributes by name (signed-log scaled, missing ones masked).
    attributes: tuple[str, ...] = ()
    #: Rows of the item-ID embedding added to the content tower; 0 = content only. Items unknown to
    #: the table (new catalog arrivals) fall back to the content part, so the model stays usable.
    n_id_items: int = 0
    #: Applied to fused inputs and tower hidden layers in training only (eval/serving: off).
    dropout: float = 0.1
    #: Long-term interest P_u: "mean" = running mean of h (the seed method's (1/n) Σ h),
    #: "ema" = exponential moving average with a half-life counted in events.
    long_term: Literal["mean", "ema"] = "mean"
    #: EMA half-life in events (only for long_term="ema"): after this many events the weight of
    #: the older interest has halved.
    half_life_events: float = 30.0
    #: Weight of the short-term interest (h) in the served interest; the rest is long-term. Mostly
    #: short-term, because following a move quickly is the point; the long-term part steadies it.
    short_weight: float = 0.7
    #: Learn the short-/long-term weight (initialised at ``short_weight``) instead of fixing it.
    learn_mix: bool = False
    #: "cosine": unit-length user vector, logits divided by a temperature in training;
    #: "dot": raw inner products of the user vector and the item vectors.
    scoring: Literal["cosine", "dot"] = "cosine"
    #: Events of the recent window an attention read-out looks at (0 = none); at most the
    #: profile's window. Work per event O(window · dim).
    attention_window: int = 0
    #: Recent events whose items get a learned repeat bonus in the scores (0 = none).
    repeat_window: int = 0

    def __post_init__(self) -> None:
        for name in ("text_dim", "dim", "action_dim", "n_actions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.n_id_items, int) or self.n_id_items < 0:
            raise ConfigError(f"n_id_items must be an int >= 0, got {self.n_id_items!r}")
        names = [m[0] for m in self.modalities]
        if len(set(names)) != len(names):
            raise ConfigError(f"modalities has duplicate names: {names!r}")
        for name, width in self.modalities:
            if not isinstance(name, str) or not isinstance(width, int) or width < 1:
                raise ConfigError(f"modality {name!r} needs a positive int width, got {width!r}")
        if len(set(self.attributes)) != len(self.attributes):
            raise ConfigError(f"attributes has duplicate names: {self.attributes!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.long_term not in ("mean", "ema"):
            raise ConfigError(f"long_term must be 'mean' or 'ema', got {self.long_term!r}")
        if not self.half_life_events > 0:
            raise ConfigError(f"half_life_events must be > 0, got {self.half_life_events!r}")
        if self.scoring not in ("cosine", "dot"):
            raise ConfigError(f"scoring must be 'cosine' or 'dot', got {self.scoring!r}")
        for name in ("attention_window", "repeat_window"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= MAX_WINDOW:
                raise ConfigError(f"{name} must be an int in [0, {MAX_WINDOW}], got {value!r}")
        if not 0.0 <= self.short_weight <= 1.0:
            raise ConfigError(f"short_weight must be in [0, 1], got {self.short_weight!r}")

    @property
    def feature_dim(self) -> int:
        """F: width of an item's fused input features."""
        mods = sum(w for _, w in self.modalities)
        return self.text_dim + mods + len(self.modalities) + 2 * len(self.attributes)

    @property
    def state_dim(self) -> int:
        """S: the packed LSTM state (h and c)."""
        return 2 * self.dim

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["modalities"] = [list(m) for m in self.modalities]
        out["attributes"] = list(self.attributes)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_json`; unknown keys are an error (a newer checkpoint format)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys {unknown}: written by a newer driftrec?")
        args = dict(obj)
        if "modalities" in args:
            args["modalities"] = tuple((str(n), int(w)) for n, w in args["modalities"])
        if "attributes" in args:
            args["attributes"] = tuple(args["attributes"])
        return cls(**args)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)
