"""Derive a small, deterministic sample of a data folder (the shipped demo/test sample).

The sample keeps a recent window of the log and a fixed number of ordinary customers in it: those
with enough events to have a history, not so many that they are wholesalers, and several baskets
(distinct timestamps). Customers are picked by the SHA-256 of their id, so the choice does not
depend on file order, Python's hash seed or the machine, and the same input always gives the
same sample. Events keep their time order; items are those the kept events touch.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from encoders.data.summary import DataImportError
from streams.messages.records import BehaviourEvent, ItemRecord

DAY_S = 86_400.0


@dataclass(frozen=True)
class SampleSpec:
    """How to cut the sample; defaults size the Online Retail demo (~15k events, < 2 MB)."""

    users: int = 200
    window_days: float = 60.0  # the most recent days of the log
    min_events: int = 20  # per user inside the window: enough history to model
    max_events: int = 200  # above this a customer is a wholesaler, not a person browsing
    min_baskets: int = 3  # distinct timestamps, so a history has several time steps
    drop_context: bool = True  # per-event context (country) is constant per user: save bytes

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"users must be >= 1, got {self.users}")
        if self.window_days <= 0:
            raise ValueError(f"window_days must be > 0, got {self.window_days}")
        if not 1 <= self.min_events <= self.max_events:
            raise ValueError(
                f"need 1 <= min_events <= max_events, got {self.min_events}, {self.max_events}"
            )
        if self.min_baskets < 1:
            raise ValueError(f"min_baskets must be >= 1, got {self.min_baskets}")


def _rank(user_id: str) -> str:
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def derive_sample(
    items: Sequence[ItemRecord], events: Sequence[BehaviourEvent], spec: SampleSpec
) -> tuple[list[ItemRecord], list[BehaviourEvent]]:
    """Cut ``spec.users`` eligible users' events in the last ``spec.window_days`` and their items.

    ``events`` must be in time order (as :func:`encoders.data.folder.read_events` returns them).
    """
    if not events:
        raise DataImportError("cannot sample an empty event log")
    start = max(e.ts for e in events) - spec.window_days * DAY_S
    window = [e for e in events if e.ts > start]
    counts = Counter(e.user_id for e in window)
    baskets: dict[str, set[float]] = defaultdict(set)
    for e in window:
        baskets[e.user_id].add(e.ts)
    eligible = [
        u
        for u, n in counts.items()
        if spec.min_events <= n <= spec.max_events and len(baskets[u]) >= spec.min_baskets
    ]
    if len(eligible) < spec.users:
        raise DataImportError(
            f"only {len(eligible)} users qualify for the sample (wanted {spec.users}); "
            "widen window_days or the min/max event bounds"
        )
    chosen = set(sorted(eligible, key=_rank)[: spec.users])
    kept = [e for e in window if e.user_id in chosen]
    if spec.drop_context:
        kept = [replace(e, context=MappingProxyType({})) for e in kept]
    used = {e.item_id for e in kept if e.item_id is not None}
    return [i for i in items if i.item_id in used], kept
