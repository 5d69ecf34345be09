"""The hold of events whose catalog item has not arrived yet, around the events batch handler.

:class:`HoldingBatch` decodes each micro-batch, asks the model thread which of the named items
the index holds, lets :class:`~streams.worker.itemwait.ItemWait` decide, and hands the handler
the events that go on now (earlier held ones first, so each user's events stay in order; the
given-up ones are dead-lettered there as ``unknown_item`` by the engine). A timer
(:meth:`tick`) releases held events when no new events arrive.

Effectively-once: a held event is marked untracked, so its batch's acknowledgement does not make
its offset committable, and :mod:`streams.faustcompat.commitguard` keeps every commit of its
partition below it (the floor is the hold's lowest offset there). Once it was handled it is
acknowledged late. A crash therefore loses nothing: the restarted worker reads the held event
again from the committed offset, the events after it too, and the profiles skip those already
applied. On a rebalance the hold drops the events of partitions no longer assigned
(unacknowledged, they are read again by the partition's owner) and, at a new consumer
generation, everything (this worker reads its partitions again from their committed offsets,
which the floors kept below the held events).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.faustcompat import commitguard
from streams.messages.codec import decode_event
from streams.messages.records import RecordError
from streams.settings import Settings
from streams.worker.itemwait import ItemWait, Plan, Waiting
from streams.worker.metrics import WaitMetrics

Handle = Callable[[Sequence[Any]], Awaitable[Any]]
Known = Callable[[set[str]], Awaitable[Collection[str]]]  # item ids -> those the index holds


@dataclass
class HoldingBatch:
    """Wraps the events batch handler with the item hold; one instance per worker."""

    settings: Settings
    handle: Handle
    known: Known
    ack: Callable[[Any], None]  # late acknowledgement of a handled held message
    generation: Callable[[], int]
    assigned: Callable[[], Collection[Any]]  # topic-partitions this worker holds now
    metrics: WaitMetrics
    clock: Callable[[], float] = time.monotonic
    wait: ItemWait = field(init=False)
    _gen: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.wait = ItemWait(self.settings.item_wait_s, self.settings.item_wait_max)

    def floor(self, tp: Any) -> int | None:
        """For :func:`streams.faustcompat.commitguard.set_floor`."""
        return self.wait.floor(tp)

    async def __call__(self, events: Sequence[Any]) -> None:
        self._drop_reassigned()
        now = self.clock()
        new: list[Waiting] = []
        undecodable: list[Any] = []
        for ev in events:
            msg = ev.message
            try:
                event = decode_event(
                    ev.value,
                    msg.key,
                    max_bytes=self.settings.max_message_bytes,
                    times=self.settings.times,
                )
            except RecordError:
                undecodable.append(ev)  # the handler dead-letters it
                continue
            new.append(Waiting(ev, event.user_id, event.item_id, msg.tp, msg.offset, now))
        if not new and not len(self.wait):
            if undecodable:
                await self.handle(undecodable)
            return
        asked = self.wait.items() | {w.item for w in new if w.item is not None}
        known = await self.known(asked) if asked else set()
        plan = self.wait.plan(new, known, now)
        go = undecodable + [w.ev for w in plan.release]
        if go:
            await self.handle(go)
        self._adopt(plan)

    async def tick(self) -> None:
        """Release what can go on when no events arrive (called by a timer)."""
        if len(self.wait):
            await self([])

    def forget(self, user: str) -> None:
        """A forget request: the user's held events (all before it) are done with."""
        for w in self.wait.forget([user]):
            self.ack(w.ev.message)
            self.metrics.outcomes.labels(outcome="forgotten").inc()
        self.metrics.waiting.set(len(self.wait))

    def _adopt(self, plan: Plan) -> None:
        # No await from here on: the commit guard must never see a half-updated hold.
        self.wait.adopt(plan)
        for w in plan.newly_held:
            commitguard.untrack(w.ev.message)  # its batch's acknowledgement must not commit it
        for w in plan.released_held:
            self.ack(w.ev.message)
        given_up = {id(w) for w in plan.given_up}
        m = self.metrics
        for w in plan.released_held:
            outcome = "given_up" if id(w) in given_up else "released"
            m.outcomes.labels(outcome=outcome).inc()
        for w in plan.given_up:
            if w not in plan.released_held:
                m.outcomes.labels(outcome="given_up").inc()  # never held: the hold was full
        m.waiting.set(len(self.wait))

    def _drop_reassigned(self) -> None:
        gen = self.generation()
        if gen != self._gen:
            self._gen = gen
            dropped = self.wait.drop(lambda w: False)
        else:
            assigned = set(self.assigned())
            dropped = self.wait.drop(lambda w: w.tp in assigned)
        if dropped:
            self.metrics.outcomes.labels(outcome="reassigned").inc(len(dropped))
            self.metrics.waiting.set(len(self.wait))
