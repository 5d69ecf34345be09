"""Events that name an item the catalog does not hold yet wait for it (bounded), in user order.

Items and events travel on different topics with nothing ordering one against the other, so the
first clicks on a new item can reach the worker before the item's catalog record. Such an event is
**held**: not applied, not dead-lettered, and, so that a user's later events never overtake it,
every later event of the same user is held behind it (the alternative, applying it with a
content-less item vector and re-embedding later, would change the user's LSTM state with a wrong
input that no later re-embedding undoes without replaying the user's history). When the item
arrives, the user's held events are applied in order. An item still unknown ``wait_s`` after its
event arrived, or the oldest held event when more than ``max_events`` wait, is given up: the event
goes to the DLQ as ``unknown_item``, the events behind it go on.

:class:`ItemWait` is the bookkeeping only (no Kafka, no clock, no model): :meth:`plan` takes the
new events and the set of known item ids and says what to release and what to keep, without
changing anything; :meth:`adopt` makes a plan the new state once the released events were handled.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, eq=False)
class Waiting:
    """One event in the hold (``ev`` is the caller's handle, e.g. a Faust event)."""

    ev: Any
    user: str
    item: str | None
    tp: Any
    offset: int
    since: float  # when it reached the hold (any clock, the caller's)


@dataclass
class Plan:
    """What one :meth:`ItemWait.plan` decided."""

    release: list[Waiting] = field(default_factory=list)  # to handle now, in order per user
    given_up: list[Waiting] = field(default_factory=list)  # of ``release``: item still unknown
    held: dict[str, list[Waiting]] = field(default_factory=dict)  # the hold after this plan
    newly_held: list[Waiting] = field(default_factory=list)  # new events that stay held
    released_held: list[Waiting] = field(default_factory=list)  # held before, released now


class ItemWait:
    """Per user, the queue of held events (head: the one whose item is missing)."""

    def __init__(self, wait_s: float, max_events: int) -> None:
        self.wait_s = wait_s
        self.max_events = max_events
        self._held: dict[str, list[Waiting]] = {}

    def __len__(self) -> int:
        return sum(len(q) for q in self._held.values())

    def users(self) -> set[str]:
        return set(self._held)

    def items(self) -> set[str]:
        """Item ids the held events name."""
        return {w.item for q in self._held.values() for w in q if w.item is not None}

    def floor(self, tp: Any) -> int | None:
        """The lowest held offset of ``tp`` (a commit must not pass it), or None."""
        offsets = [w.offset for q in self._held.values() for w in q if w.tp == tp]
        return min(offsets) if offsets else None

    def plan(self, new: Sequence[Waiting], known: Collection[str], now: float) -> Plan:
        """Decide, for held and ``new`` events (in arrival order), what goes on and what waits."""
        plan = Plan()
        held_ids = {(w.tp, w.offset) for q in self._held.values() for w in q}
        queues = {user: list(q) for user, q in self._held.items()}
        for w in new:
            if (w.tp, w.offset) in held_ids:
                continue  # a redelivery of an event already held
            queues.setdefault(w.user, []).append(w)
        for user, queue in queues.items():
            self._walk(user, queue, known, now, plan, force=False)
        while sum(len(q) for q in plan.held.values()) > self.max_events:
            oldest = min(plan.held, key=lambda u: plan.held[u][0].since)
            self._walk(oldest, plan.held.pop(oldest), known, now, plan, force=True)
        was_held = {id(w) for q in self._held.values() for w in q}
        newly = {id(w) for w in new}
        plan.newly_held = [w for q in plan.held.values() for w in q if id(w) in newly]
        plan.released_held = [w for w in plan.release if id(w) in was_held]
        return plan

    def _walk(
        self,
        user: str,
        queue: list[Waiting],
        known: Collection[str],
        now: float,
        plan: Plan,
        *,
        force: bool,
    ) -> None:
        for i, w in enumerate(queue):
            missing = w.item is not None and w.item not in known
            if not missing:
                plan.release.append(w)
                continue
            if force or now - w.since >= self.wait_s:
                plan.release.append(w)
                plan.given_up.append(w)
                force = False
                continue
            plan.held[user] = queue[i:]
            return

    def adopt(self, plan: Plan) -> None:
        self._held = plan.held

    def drop(self, keep: Callable[[Waiting], bool]) -> list[Waiting]:
        """Remove the held events ``keep`` refuses (with every event held behind them)."""
        dropped: list[Waiting] = []
        for user in list(self._held):
            queue = self._held[user]
            for i, w in enumerate(queue):
                if not keep(w):
                    dropped.extend(queue[i:])
                    del queue[i:]
                    break
            if not queue:
                del self._held[user]
        return dropped

    def forget(self, users: Iterable[str]) -> list[Waiting]:
        """Remove and return every held event of ``users``."""
        out: list[Waiting] = []
        for user in users:
            out.extend(self._held.pop(user, []))
        return out
