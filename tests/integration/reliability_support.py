"""What the fault and hostile-input tests compare against: a small deterministic world, the
reference profiles of an uninterrupted run of the same events through the same engine, the
changelog's and a worker's local view of them, and a steady event flow.

The pipeline, its worker subprocesses and the Kafka helpers are in ``pipeline_support``. The model
is the untrained, seeded one with a tiny BERT text encoder built by the test session, so a worker
starts in seconds and two runs of the same events give the same profiles (up to float reduction
order in batched steps).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from profiles.contracts import ItemEmbedding
from profiles.engine import Engine, Incoming
from profiles.profile import UserProfile, source_key
from profiles.retrieval import ItemIndex
from streams.messages.records import BehaviourEvent, ItemRecord
from streams.settings import Settings
from streams.worker.modelload import load_model
from tests.integration.pipeline_support import Pipeline, Worker, producer, read_all
from tests.unit.tinylm import WORDS

T0 = 1_700_000_000.0


# --- a small deterministic world -----------------------------------------------------------
def make_items(n: int, seed: int = 0) -> list[ItemRecord]:
    """``n`` items titled with words the tiny tokenizer knows."""
    rng = random.Random(seed)
    return [ItemRecord(item_id=f"i{i}", title=" ".join(rng.sample(WORDS, 4))) for i in range(n)]


def make_events(
    users: int, per_user: int, items: Sequence[ItemRecord], seed: int = 0, prefix: str = "e"
) -> list[BehaviourEvent]:
    """Round-robin events of ``users`` users, one second apart, on known items."""
    rng = random.Random(seed)
    out = []
    for n in range(users * per_user):
        out.append(
            BehaviourEvent(
                event_id=f"{prefix}{n}",
                user_id=f"u{n % users}",
                ts=T0 + n,
                action=rng.choice(("view", "click", "cart", "like")),
                item_id=rng.choice(items).item_id,
            )
        )
    return out


# --- what the profiles must be -------------------------------------------------------------
@dataclass(frozen=True)
class Placed:
    """A valid event as it sits on the events topic."""

    event: BehaviourEvent
    partition: int
    offset: int


def placed_events(kafka: dict[str, Any], topic: str, wanted: set[str]) -> list[Placed]:
    """The events with ids in ``wanted`` as read back from ``topic`` (partition order kept)."""
    out = []
    for m in read_all(kafka, topic):
        try:
            obj = json.loads(m.value)
        except (TypeError, ValueError, RecursionError):  # hostile-input tests mix these in
            continue
        event_id = obj.get("event_id") if isinstance(obj, dict) else None
        if isinstance(event_id, str) and event_id in wanted:
            ev = BehaviourEvent(**{k: v for k, v in obj.items() if k != "context"})
            out.append(Placed(ev, m.partition, m.offset))
    return out


@dataclass
class Reference:
    """Profiles and lists of one uninterrupted pass of the events through the engine."""

    profiles: dict[str, UserProfile]
    list_event_ids: set[str]


def reference_run(
    settings: Settings, items: Sequence[ItemRecord], placed: Sequence[Placed], batch: int = 64
) -> Reference:
    """Feed ``placed`` (in topic order per partition) through a fresh engine with the worker's
    model: the profiles an uninterrupted worker must end with."""
    model = load_model(settings)
    index: ItemIndex[ItemEmbedding] = ItemIndex(model.dim)
    for emb in model.embed_items(list(items)):
        index.upsert(emb.item_id, emb.vec, emb)
    engine = Engine(
        model,
        index,
        settings.policy_config(),
        top_k=settings.top_k,
        window=settings.recent_window,
    )
    stored: dict[str, UserProfile | None] = {}
    lists: set[str] = set()
    ordered = sorted(placed, key=lambda p: (p.offset, p.partition))
    for start in range(0, len(ordered), batch):
        chunk = ordered[start : start + batch]
        incoming = [
            Incoming(p.event, source_key(settings.events_topic, p.partition), p.offset, i)
            for i, p in enumerate(chunk)
        ]
        result = engine.process(incoming, stored)
        stored.update(result.profiles)
        lists.update(r.event_id for r in result.lists if r.event_id is not None)
    return Reference({u: p for u, p in stored.items() if p is not None}, lists)


def uninterrupted_run(
    pipeline: Pipeline, items: Sequence[ItemRecord], events: Sequence[BehaviourEvent]
) -> Reference:
    """The reference run of ``events`` as they sit on the pipeline's events topic; all of them
    must be there, and every user of them ends with a profile."""
    settings = pipeline.settings
    wanted = {e.event_id for e in events}
    placed = placed_events(pipeline.kafka(), settings.events_topic, wanted)
    assert len(placed) == len(events), f"{len(placed)} of {len(events)} events on the topic"
    ref = reference_run(settings, items, placed)
    assert sorted(ref.profiles) == sorted({e.user_id for e in events})
    return ref


def assert_worker_profiles(worker: Worker, ref: Reference) -> None:
    """The worker's view of every user's profile (its local state) equals the reference's."""
    for user, want in ref.profiles.items():
        got = worker.profile(user)
        assert got is not None, f"{user} has no profile"
        assert_same_profile(got, want)


def changelog_profiles(pipeline: Pipeline) -> dict[str, UserProfile | None]:
    """The last changelog value of every user (None: a tombstone)."""
    last: dict[str, bytes | None] = {}
    for m in read_all(pipeline.kafka(), pipeline.changelog_topic):
        last[m.key.decode()] = m.value
    config = pipeline.settings.policy_config()
    return {
        u: None if raw is None else UserProfile.from_bytes(raw, config) for u, raw in last.items()
    }


def assert_same_profile(got: UserProfile | dict[str, Any], want: UserProfile) -> None:
    """Equal counters, offsets and recent window; vectors equal to 1e-6."""
    g = got.to_json() if isinstance(got, UserProfile) else got
    w = want.to_json()
    where = f"user {w['user_id']}"
    for key in ("events_applied", "last_event_id", "recent", "offsets", "lists_published"):
        assert g[key] == w[key], f"{where}: {key} {g[key]!r} != {w[key]!r}"
    np.testing.assert_allclose(g["interest"], w["interest"], atol=1e-6, err_msg=where)
    if isinstance(got, UserProfile):
        np.testing.assert_allclose(got.state, want.state, atol=1e-6, err_msg=where)
        np.testing.assert_allclose(got.long_term, want.long_term, atol=1e-6, err_msg=where)


# --- a steady event flow ---------------------------------------------------------------
class Flow(threading.Thread):
    """Sends messages at a steady rate on a background thread (``join`` re-raises its error)."""

    def __init__(
        self,
        kafka: dict[str, Any],
        topic: str,
        messages: Sequence[tuple[bytes, bytes]],
        rate: float,
    ) -> None:
        super().__init__(daemon=True)
        self.kafka, self.topic, self.messages, self.rate = kafka, topic, messages, rate
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            prod = producer(self.kafka)
            start = time.monotonic()
            for key, value in self.messages:
                wait = start + self.sent / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                prod.send(self.topic, key=key, value=value)
                self.sent += 1
            prod.flush()
            prod.close()
        except BaseException as exc:
            self.error = exc

    def finish(self, timeout_s: float = 300.0) -> int:
        self.join(timeout_s)
        if self.error is not None:
            raise self.error
        assert not self.is_alive(), "the event flow did not finish"
        return self.sent


def local_profile_keys(worker: Worker) -> set[str]:
    """User keys in every local profiles partition of ``worker`` (actives and standbys), read
    read-only so the worker may be running."""
    from rocksdict import AccessType, Options, Rdict

    keys: set[str] = set()
    for path in sorted(worker.data_dir.rglob("profiles-*.db")):
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            rows = db.keys()
            keys.update(k.decode() for k in rows if not k.startswith(b"__faust"))
        finally:
            db.close()
    return keys
