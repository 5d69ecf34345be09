"""The small trained world the pipeline tests serve (a synthetic catalog and model, trained once
and cached), and a worker of a fresh pipeline serving it."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from encoders.data.folder import DataFolder, read_folder
from streams.messages.records import BehaviourEvent
from streams.settings import Settings
from tests.integration.pipeline_support import Pipeline, Worker, event_bytes, read_all, send

T0 = 1_750_000_000.0

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
    from encoders.training.loop import TrainConfig, train_model

    # The last element versions what training writes: 2 = with the co-occurrence table.
    key = hashlib.sha256(json.dumps([SYNTH, EPOCHS, 2]).encode()).hexdigest()[:12]
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


@contextmanager
def serving_worker(
    kafka_bootstrap: str,
    world: TinyWorld,
    folder: Path,
    *,
    partitions: int,
    extra_env: dict[str, str],
) -> Iterator[Worker]:
    """A worker of a new pipeline (own topics, group, state) serving ``world``'s model, started
    with the whole catalog loaded; stopped on exit."""
    pipe = Pipeline(
        kafka_bootstrap,
        folder,
        model_dir=world.model_dir,
        partitions=partitions,
        session_timeout_s=None,
        extra_env=extra_env,
    )
    pipe.create(world.data.items)
    w = pipe.worker()
    try:
        w.start()
        w.wait_ready()
        w.wait_catalog(len(world.data.items), 60)
        yield w
    finally:
        w.stop()


def events_for(user: str, items: list[str], start: int = 0) -> list[BehaviourEvent]:
    return [
        BehaviourEvent(f"{user}-{start + k}", user, T0 + 60 * (start + k), "click", item)
        for k, item in enumerate(items)
    ]


def send_events(worker: Worker, events: list[BehaviourEvent]) -> None:
    send(worker.pipeline.kafka(), worker.pipeline.settings.events_topic, map(event_bytes, events))


def lists_of(worker: Worker, min_count: int = 0) -> list[dict[str, object]]:
    s = worker.pipeline.settings
    records = read_all(worker.pipeline.kafka(), s.recommendations_topic, min_count=min_count)
    return [json.loads(r.value) for r in records if r.value is not None]
