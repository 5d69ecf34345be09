"""Live hit rate of published lists: did the user act on a listed item within the next N events?

Every published list opens a *watch* over its user's next ``window`` applied events. The first of
those events on one of the list's items (any action but ``skip``: skipping an item is the opposite
of acting on it) closes the watch as a **hit**; ``window`` events without one close it as a
**miss**. Watches of successive lists overlap and are judged independently, so a user who gets a
new list every event is measured exactly like one who gets a list now and then. Outcomes carry the
model version that made the list: that is the online A/B comparison, and the trainer's signal that
the champion has gone stale.

The tracker lives in memory (a bounded LRU of users with open watches): an outcome is a metric, not
state to restore, so a watch lost in a rebalance is one sample fewer, never a wrong one.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from profiles.engine import BatchResult, Incoming


@dataclass
class _Watch:
    items: frozenset[str]
    version: str
    left: int
    tag: str


@dataclass(frozen=True)
class Outcome:
    """One judged list."""

    user_id: str
    model_version: str
    hit: bool
    events: int  # events it took to hit, or the window on a miss
    tag: str = ""  # what the publisher tagged the list with (e.g. its triggering event id)


class HitTracker:
    """Open watches per user; ``event()`` and ``published()`` in each user's event order."""

    def __init__(self, window: int = 5, max_users: int = 200_000) -> None:
        if window < 1 or max_users < 1:
            raise ValueError(f"window and max_users must be >= 1, got {window}, {max_users}")
        self.window = window
        self.max_users = max_users
        self._open: OrderedDict[str, list[_Watch]] = OrderedDict()

    def __len__(self) -> int:
        """Open watches."""
        return sum(len(w) for w in self._open.values())

    def published(
        self, user_id: str, item_ids: Iterable[str], model_version: str, tag: str = ""
    ) -> None:
        """A list was published to ``user_id`` after its latest event."""
        watch = _Watch(frozenset(item_ids), model_version, self.window, tag)
        self._open.setdefault(user_id, []).append(watch)
        self._open.move_to_end(user_id)
        while len(self._open) > self.max_users:
            self._open.popitem(last=False)  # the least recently active user's watches

    def event(self, user_id: str, item_id: str | None, action: str) -> list[Outcome]:
        """One applied event of ``user_id``; returns the watches it closes."""
        watches = self._open.get(user_id)
        if not watches:
            return []
        acted = item_id is not None and action != "skip"
        out: list[Outcome] = []
        keep: list[_Watch] = []
        for w in watches:
            w.left -= 1
            if acted and item_id in w.items:
                out.append(Outcome(user_id, w.version, True, self.window - w.left, w.tag))
            elif w.left <= 0:
                out.append(Outcome(user_id, w.version, False, self.window, w.tag))
            else:
                keep.append(w)
        if keep:
            self._open[user_id] = keep
        else:
            del self._open[user_id]
        return out

    def batch(self, incoming: Sequence[Incoming], result: BatchResult) -> list[Outcome]:
        """Feed one engine batch: its applied events in order, each list after its event."""
        skipped = set(result.duplicates) | {ref for ref, _, _ in result.rejected}
        lists = {rec.ref: rec for rec in result.lists if rec.ref is not None}
        out: list[Outcome] = []
        for inc in incoming:
            if inc.ref in skipped:
                continue
            e = inc.event
            out.extend(self.event(e.user_id, e.item_id, e.action))
            rec = lists.get(inc.ref)
            if rec is not None:
                items = (s.item_id for s in rec.items)
                self.published(e.user_id, items, rec.model_version, e.event_id)
        return out


class RollingRate:
    """Hit rate over the last ``size`` outcomes of one model version."""

    def __init__(self, size: int = 500) -> None:
        self._hits: deque[bool] = deque(maxlen=size)

    def add(self, hit: bool) -> float:
        self._hits.append(hit)
        return self.get()

    def get(self) -> float:
        return sum(self._hits) / len(self._hits) if self._hits else 0.0

    def __len__(self) -> int:
        return len(self._hits)
