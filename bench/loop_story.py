"""Plays the learning-loop story of :mod:`bench.loop_recovery` against one worker subprocess.

``python -m bench.loop_story --out DIR`` starts a private broker, runs the story and writes
``recovery.json`` and ``recovery.png``; the integration test calls :func:`run_story` on the test
session's broker and asserts on the returned document.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.loop_recovery import (
    Say,
    Scenario,
    WorkerClient,
    build_scenario,
    curve,
    judge_lists,
    plot,
    rate,
    say_nothing,
)
from bench.workers import WorkerProcess
from encoders.data.folder import DataFolder
from encoders.training.loop import TrainConfig, train_model
from ops.localkafka.launcher import free_port
from streams.messages.codec import encode_json
from streams.messages.records import BehaviourEvent
from streams.registry.state import ModelEntry
from streams.registry.transport import Registry, ensure_registry_topic
from streams.settings import Settings
from streams.topics import ensure_topics
from streams.trainer.candidate import make_encoder, run_round
from streams.trainer.logdata import read_log
from streams.trainer.service import TrainerService


@dataclass
class Lab:
    """One isolated driftrec deployment on a broker: its topics, group, home, port and knobs."""

    bootstrap: str
    folder: Path
    text_encoder: Path | None = None
    rebuild: str = "background"
    ab_share: float = 0.3
    hit_window: int = 5
    refresh_events: int = 5
    epochs: int = 10
    partitions: int = 2
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    port: int = field(default_factory=free_port)

    def env(self) -> dict[str, str]:
        u = self.uid
        env = {
            "DRIFTREC_BOOTSTRAP_SERVERS": self.bootstrap,
            "DRIFTREC_HOME": str(self.folder / "home"),
            "DRIFTREC_APP_ID": f"loop-{u}",
            "DRIFTREC_EVENTS_TOPIC": f"loop-{u}-events",
            "DRIFTREC_ITEMS_TOPIC": f"loop-{u}-items",
            "DRIFTREC_RECOMMENDATIONS_TOPIC": f"loop-{u}-recs",
            "DRIFTREC_REGISTRY_TOPIC": f"loop-{u}-registry",
            "DRIFTREC_PARTITIONS": str(self.partitions),
            "DRIFTREC_WEB_PORT": str(self.port),
            "DRIFTREC_DATA_DIR": str(self.folder / "worker"),
            "DRIFTREC_DEVICE": "cpu",
            "DRIFTREC_REBUILD": self.rebuild,
            "DRIFTREC_AB_SHARE": str(self.ab_share),
            "DRIFTREC_HIT_WINDOW": str(self.hit_window),
            "DRIFTREC_REFRESH_EVENTS": str(self.refresh_events),
        }
        if self.text_encoder is not None:
            env["DRIFTREC_TEXT_ENCODER"] = str(self.text_encoder)
        return env

    def settings(self) -> Settings:
        values: dict[str, Any] = {
            k.removeprefix("DRIFTREC_").lower(): v for k, v in self.env().items()
        }
        return Settings(**values)

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, patience=self.epochs, device="cpu", progress=False)


def _send(settings: Settings, topic: str, pairs: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka_python_config(), linger_ms=5, acks="all")
    try:
        for key, value in pairs:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=60)
    finally:
        producer.close()


def produce(settings: Settings, events: list[BehaviourEvent]) -> None:
    pairs = [(e.user_id.encode(), encode_json(e.to_json())) for e in events]
    _send(settings, settings.events_topic, pairs)


def first_champion(lab: Lab, scenario: Scenario) -> str:
    """Train the first champion offline, put it in the store and promote it."""
    settings = lab.settings()
    encoder = make_encoder(settings, "cpu")
    data = DataFolder(items=scenario.items, events=scenario.champion_train)
    trained = train_model(
        data, "driftrec", seed=0, train_config=lab.train_config(), encoder=encoder
    )
    registry = Registry(settings)
    with tempfile.TemporaryDirectory() as tmp:
        version = trained.save(Path(tmp) / "m")
        window = {"source": "offline synthetic log (first 60%)"}
        _, path = registry.store.add(Path(tmp) / "m", {"data_window": window, "parent": None})
    entry = ModelEntry(
        version=version,
        status="challenger",
        created=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        path=str(path),
        data_window=window,
        metrics={"valid": trained.metrics},
        reason="first champion, trained offline",
        updated=time.time(),
    )
    registry.register(entry)
    registry.promote(version, "first champion, trained offline")
    return version


def run_story(lab: Lab, scenario: Scenario, say: Say = say_nothing) -> dict[str, Any]:
    """The whole story; returns every number the report and the test need."""
    settings = lab.settings()
    torch.set_num_threads(settings.torch_threads)  # this process trains next to the worker
    ensure_topics(settings)
    ensure_registry_topic(settings)
    champion = first_champion(lab, scenario)
    say(f"first champion {champion}")
    items = [(i.item_id.encode(), encode_json(i.to_json())) for i in scenario.items]
    _send(settings, settings.items_topic, items)
    lab.folder.mkdir(parents=True, exist_ok=True)
    driftrec = str(Path(sys.executable).parent / "driftrec")
    proc = WorkerProcess([driftrec, "worker"], lab.env(), lab.folder / "worker.log")
    worker = WorkerClient(lab.port, proc)
    sent: list[BehaviourEvent] = []
    marks: dict[str, int] = {}
    out: dict[str, Any] = {"first_champion": champion, "rebuild_mode": lab.rebuild}
    try:
        worker.wait(lambda: _health(worker).get("catalog_items") == len(items), 240, "worker")
        out["served_at_start"] = _health(worker)["model_version"]
        trainer = TrainerService(
            settings,
            since_s=86_400.0,
            train_config=lab.train_config(),
            threshold=0.0,  # set from the healthy rate once it is known
            metrics_urls=[worker.url + "/metrics"],
            min_outcomes=50,
            cooldown_s=0.0,
        )

        def phase(name: str, events: list[BehaviourEvent]) -> None:
            marks[name] = len(sent)
            produce(settings, events)
            sent.extend(events)
            target = len(sent)
            worker.wait(lambda: worker.handled() >= target, 240, f"{name}: {target} events")
            say(f"{name}: {len(events)} events handled")

        phase("before", scenario.before)
        assert trainer.why_now() is None
        healthy = trainer.last_look
        out["trainer_look_before"] = healthy
        trainer.threshold = 0.8 * healthy[0] if healthy else 0.0
        phase("drift", scenario.drift)
        why = trainer.why_now()
        out["trainer_look_drift"], out["trainer_trigger"] = trainer.last_look, why
        say(f"trainer: {why}")
        t0 = time.monotonic()
        verdict = trainer.round(why or "forced: the hit rate did not fall")
        out["retrain"] = verdict.to_json()
        say(f"round 1: {verdict.reason}")
        out["round_s"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
        half = len(scenario.after) // 2
        marks["after promotion"] = len(sent)
        produce(settings, scenario.after[:half])  # traffic goes on while the worker swaps
        if verdict.promoted:
            worker.wait(lambda: _health(worker)["model_version"] == verdict.version, 120, "swap")
        out["promotion_to_serving_s"] = round(time.monotonic() - t0, 2)
        sent.extend(scenario.after[:half])
        target = len(sent)
        worker.wait(lambda: worker.handled() >= target, 240, f"after promotion: {target} events")
        out["worker_alive_same_pid"] = proc.proc.poll() is None
        # A round on stale data: trained only on what came before the drift.
        stale_frac = 1.0 - len(scenario.before) / len(sent)
        data = read_log(settings, 0.0, progress=False)
        refused = run_round(
            settings,
            data,
            registry=trainer.registry,
            train_config=lab.train_config(),
            holdout_frac=stale_frac,
            seed=1,
        )
        out["stale_round"] = refused.to_json()
        say(f"round 2 (stale data): {refused.reason}")
        if not refused.promoted and lab.ab_share > 0:
            worker.wait(lambda: _serves(worker, refused.version), 120, "challenger served")
        phase("after (A/B)", scenario.after[half:])
        out.update(_collect(lab, worker, settings, sent, marks))
    finally:
        proc.stop()
    return out


def _serves(worker: WorkerClient, version: str, role: str = "challenger") -> bool:
    return worker.total("driftrec_serving_model", model_version=version, role=role) == 1.0


def _health(worker: WorkerClient) -> dict[str, Any]:
    status, body = worker.get("/health")
    return body if status in (200, 503) and isinstance(body, dict) else {}


def _collect(
    lab: Lab,
    worker: WorkerClient,
    settings: Settings,
    sent: list[BehaviourEvent],
    marks: dict[str, int],
) -> dict[str, Any]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka_python_config(), enable_auto_commit=False)
    lists: list[dict[str, Any]] = []
    try:
        tps = [TopicPartition(settings.recommendations_topic, p) for p in range(lab.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for batch in consumer.poll(timeout_ms=500).values():
                lists.extend(json.loads(m.value) for m in batch if m.value is not None)
    finally:
        consumer.close()
    judged = judge_lists(sent, lists, lab.hit_window)
    bounds = [*sorted(marks.items(), key=lambda kv: kv[1]), ("end", len(sent))]
    phases = {}
    for (name, start), (_, end) in itertools.pairwise(bounds):
        part = [j for j in judged if start <= j.index < end]
        by_version: dict[str, Any] = {}
        for v in sorted({j.version for j in part}):
            mine = [j for j in part if j.version == v]
            by_version[v] = {"lists": len(mine), "hit_rate": rate(mine)}
        phases[name] = {"events": end - start, "lists": len(part), "hit_rate": rate(part),
                        "by_version": by_version}  # fmt: skip
    users = sorted({e.user_id for e in sent})
    counts = {u: sum(e.user_id == u for e in sent) for u in users}
    profiles = {u: worker.get(f"/users/{u}/profile")[1] for u in users}
    return {
        "events": len(sent),
        "lists": len(lists),
        "marks": marks,
        "phases": phases,
        "curve": curve(judged, len(sent), 200),
        "profiles": {
            "users": len(users),
            "complete": sum(profiles[u].get("events_applied") == counts[u] for u in users),
            "versions": sorted({str(p.get("model_version")) for p in profiles.values()}),
        },
        "worker": {
            "hit_rate_gauge": {
                lab_["model_version"]: v for lab_, v in worker.samples("driftrec_live_hit_rate")
            },
            "swaps": worker.total("driftrec_model_swaps_total"),
            "swap_seconds_sum": worker.total("driftrec_model_swap_seconds_sum"),
            "rebuilds": {
                lab_["mode"]: v for lab_, v in worker.samples("driftrec_profile_rebuilds_total")
            },
            "rebuild_seconds": {
                lab_["mode"]: v
                for lab_, v in worker.samples("driftrec_profile_rebuild_seconds_sum")
            },
            "ab_events": {
                f"{lab_['role']} {lab_['model_version']}": v
                for lab_, v in worker.samples("driftrec_ab_events_total")
            },
            "profile_resets": worker.total("driftrec_profile_resets_total"),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="Folder for the JSON and PNG.")
    parser.add_argument("--bootstrap-servers", default=None, help="Default: a private broker.")
    parser.add_argument("--rebuild", choices=["lazy", "background"], default="background")
    parser.add_argument("--text-encoder", type=Path, default=None, help="Default: packaged MiniLM.")
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--items", type=int, default=120)
    args = parser.parse_args(argv)
    from bench.kafkaio import bench_broker

    args.out.mkdir(parents=True, exist_ok=True)
    with bench_broker(Settings(), args.bootstrap_servers) as broker:
        lab = Lab(broker.bootstrap, args.out / f"lab-{args.rebuild}", args.text_encoder)
        lab.rebuild = args.rebuild
        t0 = time.monotonic()

        def say(msg: str) -> None:
            print(f"[{time.monotonic() - t0:6.1f}s] {msg}", flush=True)

        result = run_story(lab, build_scenario(args.users, args.items), say=say)
    (args.out / f"recovery-{args.rebuild}.json").write_text(json.dumps(result, indent=1))
    title = f"driftrec learning loop: drift, retrain from Kafka, hot swap ({args.rebuild} rebuild)"
    plot(result["curve"], result["marks"], args.out / f"recovery-{args.rebuild}.png", title)
    for name, p in result["phases"].items():
        print(f"{name:<14} events {p['events']:>5} lists {p['lists']:>4} hit rate {p['hit_rate']}")


if __name__ == "__main__":
    main()
