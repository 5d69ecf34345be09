"""Helpers for pipeline integration tests: a small trained model, a real worker subprocess, and
Kafka produce/consume helpers. Everything runs on the session's real broker."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from encoders.datafolder import DataFolder, read_folder
from encoders.records import BehaviourEvent
from streams.localkafka import free_port
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DRIFTREC = Path(sys.executable).parent / "driftrec"

# A small synthetic world: 4 topics, 120 items. Trained 30 epochs (~30 s on 2 cores) once and
# cached under <home>/test-models keyed by these settings; topics separate well (interest cos
# between two topics ~0.35), which a synthetic interest switch needs.
SYNTH = {"users": 80, "items": 120, "topics": 4, "min_events": 20, "max_events": 40,
         "noise_rate": 0.05, "search_rate": 0.0, "bot_fraction": 0.0, "image_dim": 0}  # fmt: skip
EPOCHS = 30


@dataclass(frozen=True)
class TinyWorld:
    model_dir: Path
    data: DataFolder
    item_topics: dict[str, str]

    def items_of(self, topic: str) -> list[str]:
        return sorted(i for i, t in self.item_topics.items() if t == topic)

    @property
    def topics(self) -> list[str]:
        return sorted(set(self.item_topics.values()))


def tiny_world() -> TinyWorld:
    """Train (or reuse) the small model; the worker loads it through the real checkpoint path."""
    from encoders.data.synth import SynthSpec, generate
    from encoders.training import TrainConfig, train_model

    key = hashlib.sha256(json.dumps([SYNTH, EPOCHS, 1]).encode()).hexdigest()[:12]
    base = Settings().home / "test-models" / f"tiny-{key}"
    if not (base / "ok").exists():
        tmp = base.with_name(f"{base.name}.{uuid.uuid4().hex[:6]}")
        generate(SynthSpec(**SYNTH), seed=1).write(tmp / "data")  # type: ignore[arg-type]
        trained = train_model(
            read_folder(tmp / "data"),
            "driftrec",
            seed=0,
            train_config=TrainConfig(epochs=EPOCHS, patience=EPOCHS, device="cpu", progress=False),
            cache_dir=tmp / "cache",
        )
        trained.save(tmp / "model")
        (tmp / "ok").touch()
        if base.exists():
            shutil.rmtree(base)
        tmp.rename(base)
    truth = json.loads((base / "data" / "truth.json").read_text())
    return TinyWorld(base / "model", read_folder(base / "data"), truth["item_topics"])


@dataclass
class Worker:
    """A `driftrec worker` subprocess with its own topics, group, port and state folder."""

    bootstrap: str
    model_dir: Path
    folder: Path
    partitions: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def env(self) -> dict[str, str]:
        u = self.uid
        return {
            "DRIFTREC_BOOTSTRAP_SERVERS": self.bootstrap,
            "DRIFTREC_HOME": str(self.folder / "home"),
            "DRIFTREC_APP_ID": f"it-{u}",
            "DRIFTREC_EVENTS_TOPIC": f"it-{u}-events",
            "DRIFTREC_ITEMS_TOPIC": f"it-{u}-items",
            "DRIFTREC_RECOMMENDATIONS_TOPIC": f"it-{u}-recs",
            "DRIFTREC_PARTITIONS": str(self.partitions),
            "DRIFTREC_WEB_PORT": str(self.port),
            "DRIFTREC_DATA_DIR": str(self.folder / "data"),
            "DRIFTREC_MODEL_DIR": str(self.model_dir),
            "DRIFTREC_DEVICE": "cpu",
            "DRIFTREC_BATCH_WAIT_S": "0.05",
            **self.extra_env,
        }

    @property
    def settings(self) -> Settings:
        return Settings(**{k.removeprefix("DRIFTREC_").lower(): v for k, v in self.env.items()})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 180.0) -> None:
        env = {**os.environ, **self.env}
        log = (self.folder / f"worker-{self.starts}.log").open("wb")
        self.starts += 1
        self.proc = subprocess.Popen(
            [str(DRIFTREC), "worker", "--loglevel", "info"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        log.close()
        wait_for(lambda: self._healthy(), timeout_s, f"worker health on {self.url}", self)

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
        status, body = self.get("/health")
        return status == 200 and body.get("assigned_partitions") == list(range(self.partitions))

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        except OSError:
            return 0, {}
        if path == "/metrics":
            return status, raw.decode()
        return status, json.loads(raw) if raw else {}

    def metric(self, name: str) -> float:
        """Sum of a metric's samples (all label sets) in the worker's /metrics."""
        _, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def kill(self) -> None:
        """kill -9: no shutdown, no final commit."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        logs = sorted(self.folder.glob("worker-*.log"))
        if not logs:
            return "(no log)"
        return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:])


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


def send(bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes | None]]) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_request_size=4_000_000)
    n = 0
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
            n += 1
        producer.flush()
    finally:
        producer.close()
    return n


def send_events(bootstrap: str, topic: str, events: Iterable[BehaviourEvent]) -> int:
    return send(
        bootstrap, topic, ((e.user_id.encode(), json.dumps(e.to_json()).encode()) for e in events)
    )


def read_all(
    bootstrap: str, topic: str, *, min_count: int = 0, timeout_s: float = 60.0
) -> list[Any]:
    """Every record on ``topic`` from the beginning (waiting until at least ``min_count``)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout_s
        parts = consumer.partitions_for_topic(topic)
        while not parts and time.monotonic() < deadline:
            time.sleep(0.2)
            parts = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        while time.monotonic() < deadline:
            ends = consumer.end_offsets(tps)
            for batch in consumer.poll(timeout_ms=300).values():
                out.extend(batch)
            caught_up = all(consumer.position(tp) >= ends[tp] for tp in tps)
            if caught_up and len(out) >= min_count:
                break
        return out
    finally:
        consumer.close()
