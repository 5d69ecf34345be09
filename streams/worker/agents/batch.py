"""One micro-batch of behaviour events through decode -> engine -> table -> topics.

Kept apart from the agent so it runs under Faust's test_context and with fakes: the table is any
mutable mapping of user_id bytes -> profile bytes, and ``send`` is an async callable.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from profiles.engine import BatchResult, Incoming, RecList, Recommender
from profiles.errors import ProfileError
from profiles.profile import UserProfile
from streams.faustcompat.eventctx import as_current
from streams.messages.codec import dead_letter, decode_event
from streams.messages.records import RecordError
from streams.settings import Settings
from streams.worker.agents.guard import (
    PROCESSING_ERROR,
    Backoff,
    Computed,
    Stored,
    describe,
    isolate,
)
from streams.worker.metrics import Metrics
from streams.worker.placement import origin
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)
Send = Callable[[str, bytes, bytes | None], Awaitable[Any]]  # (topic, key, value)


@dataclass(frozen=True)
class Outgoing:
    """A record the batch produces (a list or a dead letter); ``acked`` counts it once the
    broker acknowledged it."""

    topic: str
    key: bytes
    value: bytes
    acked: Callable[[], None]


@dataclass
class EventsBatch:
    """Everything a batch needs; one instance per worker."""

    settings: Settings
    runtime: Runtime
    metrics: Metrics
    table: MutableMapping[Any, Any]
    send: Send
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        s, m = self.settings, self.metrics
        self.backoff = Backoff(
            s.retry_initial_s,
            s.retry_max_s,
            on_retry=lambda what: m.transient_retries.labels(stage=what).inc(),
        )

    async def __call__(self, events: Sequence[Any]) -> BatchResult:
        """Process Faust events (each with ``.message`` and ``.value``) as one micro-batch.

        A processing error never escapes and never loses another event (:mod:`.guard`)."""
        s, m = self.settings, self.metrics
        m.events_consumed.inc(len(events))
        m.batch_size.observe(len(events))
        dlq = s.dlq_topic(s.events_topic)
        incoming: list[Incoming] = []
        dead: list[Outgoing] = []
        for ref, ev in enumerate(events):
            msg = ev.message
            try:
                event = decode_event(
                    ev.value, msg.key, max_bytes=s.max_message_bytes, times=s.times
                )
            except RecordError as exc:
                dead.append(self._dead_letter(dlq, ev, exc.reason, str(exc)))
                continue
            except Exception as exc:  # a validation bug: this event only
                log.error("decoding an event failed: %s", describe(exc), exc_info=exc)
                dead.append(self._dead_letter(dlq, ev, PROCESSING_ERROR, describe(exc)))
                continue
            source, offset = origin(msg)  # a forwarded copy counts at its original's position
            incoming.append(Incoming(event, source, offset, ref))
        stored = self._read_all(events, incoming)
        try:
            done = await self._attempt(incoming, stored, copy=False)
        except Exception as exc:
            log.warning("a batch of %d events failed (%s); isolating", len(incoming), describe(exc))
            # The failed attempt may have changed the profiles it was given: start from the table.
            stored = self._read_all(events, incoming)
            done = await isolate(self._attempt, incoming, stored, exc)
        result = done.result
        dead += [self._dead_letter(dlq, events[ref], r, why) for ref, r, why in result.rejected]
        # Lists (and dead letters) first, acknowledged by the broker, then the table. A crash in
        # between republishes the list on replay (allowed: lists are at-least-once); the other
        # order could lose it, because the replayed event is then recognised as applied and
        # skipped. Every record of the batch is sent before any acknowledgement is awaited.
        await self._deliver(dead + [self._list(rec, value) for rec, value in done.lists])
        for user, packed in done.packed.items():
            with as_current(events[result.profile_refs[user]]):
                self.table[user.encode()] = packed
        self._rewrite_redelivered(events, incoming, stored, result)
        self._count(result)
        return result

    def _read_all(
        self, events: Sequence[Any], incoming: Sequence[Incoming]
    ) -> dict[str, UserProfile | None]:
        stored: dict[str, UserProfile | None] = {}
        for inc in incoming:
            user = inc.event.user_id
            if user not in stored:
                with as_current(events[inc.ref]):
                    stored[user] = self._read(user)
        return stored

    async def _attempt(
        self, incoming: Sequence[Incoming], stored: Stored, *, copy: bool = True
    ) -> Computed:
        """Process ``incoming`` on the model thread and pack what it changed; transient failures
        are retried here. With ``copy`` the engine gets copies: ``stored`` stays as it was."""
        clock = self.clock

        def job(engine: Recommender) -> Computed:
            users = {inc.event.user_id for inc in incoming}
            given = {u: stored.get(u) for u in users}
            if copy:
                given = {u: None if p is None else p.copy() for u, p in given.items()}
            result = engine.process(incoming, given)
            packed = {user: p.to_bytes() for user, p in result.profiles.items()}
            now = clock()
            # = encode_json(rec.to_json(published_ts=now)), written directly (profiles.listjson)
            lists = [(rec, rec.to_json_bytes(now)) for rec in result.lists]
            return Computed(result, packed, lists)

        return await self.backoff.retry(lambda: self.runtime.run(job), "process")

    def _list(self, rec: RecList, value: bytes) -> Outgoing:
        def counted() -> None:
            self.metrics.lists_published.labels(trigger=rec.trigger).inc()
            if rec.event_ts is not None:
                self.metrics.end_to_end_seconds.observe(max(0.0, self.clock() - rec.event_ts))

        return Outgoing(self.settings.recommendations_topic, rec.user_id.encode(), value, counted)

    async def _deliver(self, records: Sequence[Outgoing]) -> None:
        """Send every record and wait for the broker's acknowledgements. Failed sends are sent
        again (any exception: neither a list nor a dead letter can be dead-lettered) with backoff;
        the others are not."""
        todo = list(records)
        for delay in self.backoff.delays():
            outcomes = await self._send_all(todo)
            failed: list[Outgoing] = []
            for record, error in zip(todo, outcomes, strict=True):
                if error is not None:
                    failed.append(record)
                    last = error
                    continue
                record.acked()
            if not failed:
                return
            log.warning(
                "%d of %d records not published (%s); retrying in %.1fs",
                len(failed),
                len(todo),
                describe(last),
                delay,
            )
            self.metrics.transient_retries.labels(stage="publish").inc()
            await self.backoff.sleep(delay)
            todo = failed

    async def _send_all(self, todo: Sequence[Outgoing]) -> list[Exception | None]:
        """Send in order (a user's lists stay ordered), then await every acknowledgement."""
        pending: list[Any] = []
        for record in todo:
            try:
                pending.append(await self.send(record.topic, record.key, record.value))
            except Exception as exc:
                pending.append(exc)

        async def settle(sent: Any) -> None:
            if isinstance(sent, Exception):
                raise sent
            if inspect.isawaitable(sent):
                await sent

        results = await asyncio.gather(*(settle(p) for p in pending), return_exceptions=True)
        out: list[Exception | None] = []
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, Exception):
                raise r  # cancellation: the batch stops here
            out.append(r if isinstance(r, Exception) else None)
        return out

    def _rewrite_redelivered(
        self,
        events: Sequence[Any],
        incoming: Sequence[Incoming],
        stored: Mapping[str, UserProfile | None],
        result: BatchResult,
    ) -> None:
        """Write again the profile of a user whose events were all redelivered duplicates.

        After a kill -9 the local RocksDB copy can be ahead of the changelog (written locally, the
        changelog record still in the producer's buffer). The redelivered events are skipped as
        applied, so without this write the changelog would keep the older profile, and a worker
        taking the partition over would restore it.
        """
        user_of = {inc.ref: inc.event.user_id for inc in incoming}
        refs = {user_of[ref]: ref for ref in result.duplicates}
        for user, ref in refs.items():
            profile = stored.get(user)
            if user not in result.profiles and profile is not None:
                with as_current(events[ref]):
                    self.table[user.encode()] = profile.to_bytes()

    def _read(self, user: str) -> UserProfile | None:
        raw = self.table.get(user.encode())
        if raw is None:
            return None
        try:
            return UserProfile.from_bytes(raw, self.settings.policy_config())
        except ProfileError as exc:
            # Never crash on one damaged value: start the user over, loudly.
            log.error("profile of %r could not be decoded (%s); starting it over", user, exc)
            self.metrics.profile_resets.labels(reason="undecodable").inc()
            return None

    def _dead_letter(self, topic: str, ev: Any, reason: str, message: str) -> Outgoing:
        msg = ev.message
        record = dead_letter(
            reason=reason,
            error=message,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=msg.key,
            value=ev.value,
        )

        def counted() -> None:
            self.metrics.dead_letters.labels(topic=msg.topic, reason=reason).inc()

        return Outgoing(topic, msg.key or b"", record, counted)

    def _count(self, result: BatchResult) -> None:
        m = self.metrics
        m.events_applied.inc(result.applied)
        m.events_skipped.inc(len(result.duplicates))
        if result.resets:
            m.profile_resets.labels(reason="model_version").inc(result.resets)
        for seconds in result.step_seconds:
            m.step_seconds.observe(seconds)
        if result.retrieval_seconds is not None:
            m.retrieval_seconds.observe(result.retrieval_seconds)
        for drift in result.drifts:
            m.drift.observe(drift)
