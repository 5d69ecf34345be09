"""The one pipeline and worker helper of the integration tests: an isolated pipeline (own topics,
group, state) on a real broker, `driftrec worker` subprocesses of it that can be killed, Kafka
produce/consume helpers (TLS/SASL-aware), and brokers that a test starts for itself.

What the profiles must be (the deterministic world, reference runs, a steady event flow) is in
``reliability_support``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.workers import get_view
from ops.localkafka.launcher import LocalBroker, free_port
from ops.localkafka.tls import SecureListeners, make_certificates
from streams.messages.records import BehaviourEvent, ItemRecord
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DRIFTREC = Path(sys.executable).parent / "driftrec"
#: Environment of a worker whose model is tests/integration/faulty_model.py: it fails on purpose
#: on items whose id or title marks them (see that module).
FAULTY_MODEL_ENV = {
    "PYTHONPATH": str(ROOT),  # the worker imports the faulty model from tests/
    "DRIFTREC_MODEL_LOADER": "tests.integration.faulty_model:load",
}


def wait_for(
    check: Callable[[], bool], timeout_s: float, what: str, worker: Worker | None = None
) -> None:
    """Poll ``check`` until true; fail with the worker's log when it never is."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    tail = worker.log_tail() if worker else ""
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}\n{tail}")


# --- brokers of a test's own ---------------------------------------------------------------
def secure_listeners(certs_dir: Path, scram_users: dict[str, str]) -> SecureListeners:
    """SSL and SASL_SSL (SCRAM) listeners on free ports, with certificates made in ``certs_dir``."""
    return SecureListeners(
        certs=make_certificates(certs_dir),
        ssl_port=free_port(),
        sasl_port=free_port(),
        scram_users=scram_users,
    )


@contextmanager
def own_broker(
    runtime_dir: Path, secure: SecureListeners | None = None, timeout_s: float = 120.0
) -> Iterator[LocalBroker]:
    """A broker of its own on free ports (not the session's), stopped when the block ends."""
    broker = LocalBroker(
        Settings().kafka_dir,
        port=free_port(),
        controller_port=free_port(),
        runtime_dir=runtime_dir,
        secure=secure,
    )
    broker.start(timeout_s=timeout_s)
    try:
        yield broker
    finally:
        broker.stop()


# --- one isolated pipeline and its workers -------------------------------------------------
@dataclass
class Pipeline:
    """Names of one pipeline (topics, group, home) on a broker; its workers share them.

    The model is the untrained, seeded one over ``text_encoder`` or the trained one in
    ``model_dir``. A killed worker's partitions move on after ``session_timeout_s`` (None:
    Faust's 60 s); 10 s, not less: shorter loses heartbeats on a 2-core machine running several
    workers.
    """

    bootstrap: str
    folder: Path
    text_encoder: Path | None = None
    model_dir: Path | None = None
    partitions: int = 4
    session_timeout_s: int | None = 10
    extra_env: dict[str, str] = field(default_factory=dict)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def env(self) -> dict[str, str]:
        u = self.uid
        env = {
            "DRIFTREC_BOOTSTRAP_SERVERS": self.bootstrap,
            "DRIFTREC_HOME": str(self.folder / "home"),
            "DRIFTREC_APP_ID": f"it-{u}",
            "DRIFTREC_EVENTS_TOPIC": f"it-{u}-events",
            "DRIFTREC_ITEMS_TOPIC": f"it-{u}-items",
            "DRIFTREC_RECOMMENDATIONS_TOPIC": f"it-{u}-recs",
            "DRIFTREC_PARTITIONS": str(self.partitions),
            "DRIFTREC_DEVICE": "cpu",
            "DRIFTREC_BATCH_WAIT_S": "0.05",
        }
        if self.text_encoder is not None:
            env["DRIFTREC_TEXT_ENCODER"] = str(self.text_encoder)
        if self.model_dir is not None:
            env["DRIFTREC_MODEL_DIR"] = str(self.model_dir)
        if self.session_timeout_s is not None:
            env["DRIFTREC_SESSION_TIMEOUT_S"] = str(self.session_timeout_s)
        return {**env, **self.extra_env}

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

    def create(self, items: Sequence[ItemRecord]) -> None:
        """Create the pipeline's topics and put ``items`` on its items topic."""
        from streams.topics import ensure_topics

        settings = self.settings
        ensure_topics(settings)
        send(self.kafka(), settings.items_topic, map(item_bytes, items))

    def started_worker(self, items: Sequence[ItemRecord], name: str = "w1") -> Worker:
        """Topics created with ``items``, a worker started and every item in its catalog.

        The caller stops the worker (in ``finally``); it is stopped here when the catalog does
        not load."""
        self.create(items)
        worker = self.worker(name)
        worker.start()
        try:
            worker.wait_catalog(len(items))
        except BaseException:
            worker.stop()
            raise
        return worker

    def send_events(self, events: Iterable[BehaviourEvent]) -> int:
        """Put ``events`` on the events topic, keyed by user."""
        return send(self.kafka(), self.settings.events_topic, map(event_bytes, events))


@dataclass
class Worker:
    """A ``driftrec worker`` subprocess of a pipeline with its own port and state folder."""

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
        """Start the process (does not wait; see :meth:`wait_ready` and :meth:`wait_catalog`)."""
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

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        """Model loaded and every partition of the pipeline assigned (a worker on its own)."""
        everything = list(range(self.pipeline.partitions))

        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"worker exited:\n{self.log_tail()}")
            return sorted(self.health().get("assigned_partitions") or ()) == everything

        wait_for(ready, timeout_s, f"worker {self.url} ready", self)

    def wait_catalog(self, items: int, timeout_s: float = 180.0) -> None:
        """The worker's catalog holds ``items`` items."""
        wait_for(lambda: self.health().get("catalog_items") == items, timeout_s, "catalog", self)

    def get(self, path: str) -> tuple[int, Any]:
        return get_view(self.url, path)

    def profile(self, user: str) -> dict[str, Any] | None:
        """The profile view; None on 404; raises while the worker cannot answer."""
        status, body = self.get(f"/users/{user}/profile")
        if status == 404 and "no profile" in str(body.get("error", "")):
            return None
        if status != 200:
            raise LookupError(f"profile view answered {status}: {body}")
        return dict(body)

    def events_applied(self, user: str) -> int:
        """Events applied to ``user``'s profile; 0 without a profile or an answer."""
        status, body = self.get(f"/users/{user}/profile")
        return int(body.get("events_applied", 0)) if status == 200 else 0

    def all_applied(self, users: Iterable[str], count: int, *, at_least: bool = False) -> bool:
        """Every user's profile has ``count`` events applied (``at_least``: ``count`` or more)."""
        assert count > 0, "0 also stands for no profile or no answer"
        return all(n >= count if at_least else n == count for n in map(self.events_applied, users))

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
def event_bytes(event: BehaviourEvent) -> tuple[bytes, bytes]:
    return event.user_id.encode(), json.dumps(event.to_json()).encode()


def item_bytes(item: ItemRecord) -> tuple[bytes, bytes]:
    return item.item_id.encode(), json.dumps(item.to_json()).encode()


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


def read_all(
    kafka: dict[str, Any], topic: str, *, min_count: int = 0, timeout_s: float = 60.0
) -> list[Any]:
    """Every record on ``topic`` from the beginning up to its end offsets now, or, with
    ``min_count``, up to the first end offsets that make at least ``min_count`` records."""
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
        while True:
            if all(consumer.position(tp) >= ends[tp] for tp in tps):
                if len(out) >= min_count:
                    return out
                ends = consumer.end_offsets(tps)  # not enough yet: wait for more
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"could not read {topic} to its end ({len(out)} records, "
                    f"{min_count} wanted) in {timeout_s:.0f}s"
                )
            if not tps:  # no such topic: nothing will come
                time.sleep(0.3)
                continue
            for tp, batch in consumer.poll(timeout_ms=300).items():
                out.extend(m for m in batch if m.offset < ends[tp])
                if consumer.position(tp) > ends[tp]:  # what lies beyond comes with new ends
                    consumer.seek(tp, ends[tp])
    finally:
        consumer.close()
