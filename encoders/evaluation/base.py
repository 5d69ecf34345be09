"""The one interface every evaluated model implements, and the catalog index they share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from encoders.data.catalog import CatalogOrder
from streams.messages.records import BehaviourEvent

F32 = npt.NDArray[np.float32]
#: Encodes texts to L2-normalised vectors: ``(B,) -> (B, D)`` (e.g. ``TextEncoder.encode``).
TextEncodeFn = Callable[[Sequence[str]], F32]


class EvaluationError(ValueError):
    """Evaluation cannot run: bad options, a model that does not fit the data, missing files."""


class ItemIndex(CatalogOrder):
    """The catalog order of evaluation: an item outside it is an error."""

    duplicate_error = EvaluationError

    def of(self, item_id: str) -> int:
        try:
            return self.index[item_id]
        except KeyError:
            raise EvaluationError(f"item {item_id!r} is not in the catalog") from None

    def texts(self) -> list[str]:
        return [item.text for item in self.items]


class StreamModel(Protocol):
    """A recommender seen as online state: ``step`` one event per user, ``interest`` -> score.

    States are flat float32 rows (B, S) owned by the caller, so many users advance in one batched
    call, exactly as the streaming pipeline does. ``gaps_s`` are seconds since each user's
    previous event (0.0 for the first).
    """

    name: str
    state_dim: int

    def initial_states(self, n: int) -> F32:
        """``(n, S)`` states of users with no events yet."""
        ...

    def step(self, states: F32, events: Sequence[BehaviourEvent], gaps_s: F32) -> F32:
        """Apply one event per row: states (B, S), B events, gaps (B,) -> new states (B, S)."""
        ...

    def interest(self, states: F32) -> F32:
        """``(B, D)`` interest vectors to score with :meth:`scores`."""
        ...

    def scores(self, interests: F32) -> F32:
        """``(B, D) -> (B, N)`` scores over the whole catalog (higher is better)."""
        ...


def recent_items_states(n: int, size: int) -> F32:
    """``n`` empty recent-item states: catalog indices of the last ``size`` items, -1 = empty."""
    return np.full((n, size), -1.0, dtype=np.float32)


def push_recent_items(catalog: ItemIndex, states: F32, events: Sequence[BehaviourEvent]) -> F32:
    """``states`` with each event's item pushed in front (newest first); item-less events keep
    their row as it was."""
    out = states.copy()
    for r, e in enumerate(events):
        if e.item_id is not None:
            out[r, 1:] = states[r, :-1]
            out[r, 0] = catalog.of(e.item_id)
    return out
