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

from profiles.engine import BatchResult, Incoming
from profiles.errors import ProfileError
from profiles.profile import UserProfile
from streams.faustcompat.eventctx import as_current
from streams.messages.codec import dead_letter, decode_event, encode_json
from streams.messages.records import RecordError
from streams.settings import Settings
from streams.worker.metrics import Metrics
from streams.worker.placement import origin
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)
Send = Callable[[str, bytes, bytes | None], Awaitable[Any]]  # (topic, key, value)


@dataclass
class EventsBatch:
    """Everything a batch needs; one instance per worker."""

    settings: Settings
    runtime: Runtime
    metrics: Metrics
    table: MutableMapping[Any, Any]
    send: Send
    clock: Callable[[], float] = time.time

    async def __call__(self, events: Sequence[Any]) -> BatchResult:
        """Process Faust events (each with ``.message`` and ``.value``) as one micro-batch."""
        s, m = self.settings, self.metrics
        m.events_consumed.inc(len(events))
        m.batch_size.observe(len(events))
        dlq = s.dlq_topic(s.events_topic)
        incoming: list[Incoming] = []
        for ref, ev in enumerate(events):
            msg = ev.message
            try:
                event = decode_event(ev.value, msg.key, max_bytes=s.max_message_bytes)
            except RecordError as exc:
                await self._dead_letter(dlq, ev, exc.reason, str(exc))
                continue
            source, offset = origin(msg)  # a forwarded copy counts at its original's position
            incoming.append(Incoming(event, source, offset, ref))
        stored: dict[str, UserProfile | None] = {}
        for inc in incoming:
            user = inc.event.user_id
            if user not in stored:
                with as_current(events[inc.ref]):
                    stored[user] = self._read(user)
        result = await self.runtime.run(lambda engine: engine.process(incoming, stored))
        for ref, reason, message in result.rejected:
            await self._dead_letter(dlq, events[ref], reason, message)
        # Lists first, acknowledged by the broker, then the table. A crash in between republishes
        # the list on replay (allowed: lists are at-least-once); the other order could lose it,
        # because the replayed event is then recognised as applied and skipped.
        await self._publish(result)
        for user, profile in result.profiles.items():
            with as_current(events[result.profile_refs[user]]):
                self.table[user.encode()] = profile.to_bytes()
        self._rewrite_redelivered(events, incoming, stored, result)
        self._count(result)
        return result

    async def _publish(self, result: BatchResult) -> None:
        s, m = self.settings, self.metrics
        now = self.clock()
        pending = []
        for rec in result.lists:
            value = encode_json(rec.to_json(published_ts=now))
            pending.append(await self.send(s.recommendations_topic, rec.user_id.encode(), value))
            m.lists_published.labels(trigger=rec.trigger).inc()
            if rec.event_ts is not None:
                m.end_to_end_seconds.observe(max(0.0, now - rec.event_ts))
        await asyncio.gather(*(p for p in pending if inspect.isawaitable(p)))

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

    async def _dead_letter(self, topic: str, ev: Any, reason: str, message: str) -> None:
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
        await self.send(topic, msg.key or b"", record)
        self.metrics.dead_letters.labels(topic=msg.topic, reason=reason).inc()

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
