"""Support for the fault and hostile-input tests: an isolated pipeline (own topics, group, state),
`driftrec worker` subprocesses that can be killed, a small deterministic world, and the
reference profiles of an uninterrupted run of the same events through the same engine.

Shares ``wait_for`` with ``pipeline_support`` (the stream tests' single-worker helpers); the
``Worker`` here differs on purpose: several workers of one app, kill -9, non-blocking start, and
TLS/SASL-aware Kafka helpers. Everything runs on a real broker. The model is the untrained, seeded
one with a tiny BERT text encoder built by the test session, so a worker starts in seconds and two
runs of the same events give the same profiles (up to float reduction order in batched steps).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from encoders.records import BehaviourEvent, ItemRecord
from encoders.serving import ItemEmbedding
from profiles.engine import Engine, Incoming
from profiles.profile import UserProfile, source_key
from profiles.retrieval import ItemIndex
from streams.localkafka import free_port
from streams.runtime import load_model
from streams.settings import Settings
from tests.integration.pipeline_support import wait_for
from tests.unit.tinylm import WORDS

ROOT = Path(__file__).resolve().parents[2]
DRIFTREC = Path(sys.executable).parent / "driftrec"
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


def event_bytes(event: BehaviourEvent) -> tuple[bytes, bytes]:
    return event.user_id.encode(), json.dumps(event.to_json()).encode()


def item_bytes(item: ItemRecord) -> tuple[bytes, bytes]:
    return item.item_id.encode(), json.dumps(item.to_json()).encode()


# --- one isolated pipeline and its workers -------------------------------------------------
@dataclass
class Pipeline:
    """Names of one pipeline (topics, group, home) on a broker; its workers share them."""

    bootstrap: str
    folder: Path
    text_encoder: Path
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def env(self) -> dict[str, str]:
        u = self.uid
        return {
            "DRIFTREC_BOOTSTRAP_SERVERS": self.bootstrap,
            "DRIFTREC_HOME": str(self.folder / "home"),
            "DRIFTREC_APP_ID": f"rel-{u}",
            "DRIFTREC_EVENTS_TOPIC": f"rel-{u}-events",
            "DRIFTREC_ITEMS_TOPIC": f"rel-{u}-items",
            "DRIFTREC_RECOMMENDATIONS_TOPIC": f"rel-{u}-recs",
            "DRIFTREC_PARTITIONS": str(self.partitions),
            "DRIFTREC_TEXT_ENCODER": str(self.text_encoder),
            "DRIFTREC_DEVICE": "cpu",
            "DRIFTREC_BATCH_WAIT_S": "0.05",
            # A killed worker's partitions move on after 10 s, not Faust's 60 s (shorter loses
            # heartbeats on a 2-core machine running several workers).
            "DRIFTREC_SESSION_TIMEOUT_S": "10",
            **self.extra_env,
        }

    @property
    def settings(self) -> Settings:
        return Settings(**{k.removeprefix("DRIFTREC_").lower(): v for k, v in self.env.items()})

    @property
    def changelog_topic(self) -> str:
        return f"{self.settings.app_id}-profiles-changelog"

    def worker(self, name: str = "w1") -> Worker:
        return Worker(self, self.folder / name)

    def kafka(self) -> dict[str, Any]:
        """kafka-python connection settings of this pipeline (TLS/SASL when configured)."""
        return self.settings.kafka_python_config()


@dataclass
class Worker:
    """A ``driftrec worker`` subprocess with its own port and state folder."""

    pipeline: Pipeline
    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def start(self) -> None:
        """Start the process (does not wait; see :meth:`wait_ready`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.pipeline.folder / "home").mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.pipeline.env,
            "DRIFTREC_WEB_PORT": str(self.port),
            "DRIFTREC_DATA_DIR": str(self.data_dir),
        }
        with (self.folder / f"worker-{self.starts}.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [str(DRIFTREC), "worker", "--loglevel", "info"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health(self) -> dict[str, Any]:
        status, body = self.get("/health")
        return body if status == 200 else {}

    def wait_ready(self, timeout_s: float = 180.0, partitions: int | None = None) -> None:
        """Model loaded and (when given) exactly ``partitions`` events partitions assigned."""

        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"worker exited:\n{self.log_tail()}")
            body = self.health()
            if not body:
                return False
            assigned = body.get("assigned_partitions") or []
            return len(assigned) == partitions if partitions is not None else bool(assigned)

        wait_for(ready, timeout_s, f"worker {self.url} ready", self)

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                raw, status = resp.read(), resp.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        except OSError:
            return 0, {}
        if path == "/metrics":
            return status, raw.decode()
        try:
            return status, json.loads(raw) if raw else {}
        except ValueError:
            return status, {}

    def profile(self, user: str) -> dict[str, Any] | None:
        """The profile view; None on 404; raises while the worker cannot answer."""
        status, body = self.get(f"/users/{user}/profile")
        if status == 404 and "no profile" in str(body.get("error", "")):
            return None
        if status != 200:
            raise LookupError(f"profile view answered {status}: {body}")
        return dict(body)

    def metric(self, name: str) -> float:
        """Sum of a metric's samples (all label sets) in the worker's /metrics (0 if absent)."""
        status, text = self.get("/metrics")
        if status != 200:
            return 0.0
        total = 0.0
        for line in str(text).splitlines():
            if line.startswith((name + " ", name + "{")):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def kill(self) -> None:
        """kill -9: no shutdown, no final flush or commit."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Graceful stop (SIGTERM: Faust flushes, commits and leaves the group)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def log(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.folder.glob("worker-*.log"))
        )

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:]) or "(no log)"


def listening_addresses(port: int) -> set[str]:
    """IP addresses with a socket in LISTEN state on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            if len(addr) == 8:  # IPv4, little-endian
                found.add(".".join(str(b) for b in reversed(bytes.fromhex(addr))))
            else:
                found.add("::" if int(addr, 16) == 0 else addr)
    return found


# --- Kafka helpers -------------------------------------------------------------------------
def producer(kafka: dict[str, Any]) -> KafkaProducer:
    return KafkaProducer(**kafka, linger_ms=5, acks="all", max_request_size=4_000_000)


def send(kafka: dict[str, Any], topic: str, messages: Iterable[tuple[bytes | None, Any]]) -> int:
    prod = producer(kafka)
    n = 0
    try:
        for key, value in messages:
            prod.send(topic, key=key, value=value)
            n += 1
        prod.flush()
    finally:
        prod.close()
    return n


def read_all(kafka: dict[str, Any], topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record on ``topic`` from the beginning up to its end offsets now."""
    consumer = KafkaConsumer(**kafka, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout_s
        parts = consumer.partitions_for_topic(topic)
        while not parts and time.monotonic() < deadline:
            time.sleep(0.2)
            parts = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[Any] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end in {timeout_s:.0f}s")
            for batch in consumer.poll(timeout_ms=300).values():
                out.extend(
                    m for m in batch if m.offset < ends[TopicPartition(m.topic, m.partition)]
                )
        return out
    finally:
        consumer.close()


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
