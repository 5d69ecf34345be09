"""What the engine and the model agree on, importable without torch: the step event, the item
embedding, and the model protocol the engine calls (implemented by
``encoders.serving.ServingModel``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from profiles.cooc import CoocBlend

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ItemEmbedding:
    item_id: str
    features: F32  # (F,) fused item input features (text + masked modalities + attributes)
    vec: F32  # (D,) item-tower vector in the interest space, used for retrieval


class StepEvent(NamedTuple):
    """One event as the model steps it (a named tuple: the engine builds one per event)."""

    action: str  # one of streams.messages.records.ACTIONS
    gap_s: float  # seconds since this user's previous applied event (0.0 for the first)
    item: ItemEmbedding | None  # None for item-less events (a search with only text)
    text: str | None  # the event's free text, encoded inside step() in one batched call


class InterestModel(Protocol):
    """The part of ``encoders.serving.ServingModel`` the engine uses."""

    version: str
    dim: int
    #: Recent events the model's read-out attends over (0: none); see encoders.readout.
    attention_window: int

    def initial_state(self) -> np.ndarray: ...
    def step(
        self, states: np.ndarray, events: Sequence[StepEvent]
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def step_sequences(
        self, states: np.ndarray, events: Sequence[Sequence[StepEvent]]
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def update_long_term(
        self, long: np.ndarray, count: np.ndarray, h: np.ndarray
    ) -> np.ndarray: ...
    def served_interest(
        self,
        h: np.ndarray,
        long: np.ndarray,
        window: np.ndarray | None = ...,
        window_mask: np.ndarray | None = ...,
    ) -> np.ndarray: ...
    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray: ...
    def repeat_bonus(self) -> np.ndarray | None: ...
    def cooccurrence(self, recent: Sequence[str | None]) -> CoocBlend | None:
        """The co-occurrence part of a list for ``recent`` item ids (newest first), or None
        when the model serves its interest scores alone."""
        ...
