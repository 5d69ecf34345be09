"""``driftrec eval`` without the CLI: read the data, split it, build each model, evaluate offline
and in the stream replay, and assemble the result document."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from encoders.data.folder import DataFolder, read_folder
from encoders.data.split import Split, leave_last_out, read_split_file
from encoders.evaluation.base import F32, EvaluationError, ItemIndex, StreamModel, TextEncodeFn
from encoders.evaluation.baselines import ItemKNNText, Popularity, StaticProfile
from encoders.evaluation.offline import PROTOCOLS, evaluate_offline
from encoders.evaluation.ranking import DEFAULT_KS
from encoders.evaluation.simple import CoocKNN, RepeatRecency
from encoders.evaluation.stream import ADAPT_SHARE, ADAPT_TOP, replay_stream
from streams.messages.records import DEFAULT_TIMES, TimeRule

ALL_MODELS: tuple[str, ...] = (
    "pop",
    "repeat",
    "cooc-knn",
    "itemknn-text",
    "static-profile",
    "gru4rec",
    "sasrec",
    "driftrec",
)
TRUTH_FILE = "truth.json"


@dataclass(frozen=True)
class EvalOptions:
    """What to evaluate and how (the CLI's options)."""

    models: tuple[str, ...] = ALL_MODELS
    ks: tuple[int, ...] = DEFAULT_KS
    #: Offline protocols, the first one is the primary table (``models``); see offline.py.
    protocols: tuple[str, ...] = PROTOCOLS
    split_file: Path | None = None
    stream: bool = True
    #: The stream masks each user's most recent items, as the pipeline excludes items just consumed.
    stream_mask_recent: int = 20
    #: Stream replay only over the first N users (in log order); None = all.
    stream_users: int | None = None
    device: str = "auto"
    cache_dir: Path | None = None
    text_encoder: str | None = None
    #: How event timestamps are read (DRIFTREC_TS_UNIT, DRIFTREC_TS_MIN).
    times: TimeRule = DEFAULT_TIMES
    batch_users: int = 256
    #: Folder with <name>/ checkpoint folders (driftrec, gru4rec, sasrec).
    checkpoints: Path | None = None
    #: Train models that have no checkpoint here, on the same split (else: an error).
    train_missing: bool = True
    #: Epochs for models trained here (None: the trainer's default, early stopping on).
    train_epochs: int | None = None
    seed: int = 0
    progress: bool = True
    #: Save every model trained here to ``<save_checkpoints>/seed-<seed>/<name>/`` (None: don't).
    save_checkpoints: Path | None = None

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in ALL_MODELS]
        if unknown or not self.models:
            raise EvaluationError(
                f"unknown model(s) {unknown}; choose from {', '.join(ALL_MODELS)}"
            )
        if not self.ks or min(self.ks) < 1:
            raise EvaluationError(f"K values must be >= 1, got {self.ks}")
        bad = [p for p in self.protocols if p not in PROTOCOLS]
        if bad or not self.protocols or len(set(self.protocols)) != len(self.protocols):
            raise EvaluationError(
                f"protocols must be distinct values of {', '.join(PROTOCOLS)}, got {self.protocols}"
            )


@dataclass
class EvalContext:
    """Everything a model factory may need; expensive parts are built on first use."""

    data_dir: Path
    folder: DataFolder
    catalog: ItemIndex
    split: Split
    options: EvalOptions
    model_dir: Path | None
    encoder_factory: Callable[[EvalContext], TextEncodeFn]
    extras: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def encode(self) -> TextEncodeFn:
        return self.encoder_factory(self)

    @cached_property
    def event_text_encoder(self) -> TextEncodeFn:
        """``encode`` with every free text of the log encoded up front in one batched call (a
        replay would otherwise run the language model on a handful of texts per step)."""
        texts = sorted({e.text for e in self.folder.events if e.text})
        known = dict(zip(texts, self.encode(texts), strict=True)) if texts else {}

        def encode(batch: Sequence[str]) -> F32:
            missing = [t for t in batch if t not in known]
            if missing:
                known.update(zip(missing, self.encode(missing), strict=True))
            return np.stack([known[t] for t in batch]).astype(np.float32)

        return encode

    @cached_property
    def item_text_vecs(self) -> F32:
        """``(N, Dt)`` L2-normalised text vectors of the catalog, in catalog order."""
        vecs = np.asarray(self.encode(self.catalog.texts()), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        out: F32 = (vecs / np.maximum(norms, 1e-12)).astype(np.float32)
        return out


ModelFactory = Callable[[EvalContext], StreamModel]


def baseline_factories() -> dict[str, ModelFactory]:
    """The models that need no checkpoint."""
    return {
        "pop": lambda ctx: Popularity(ctx.catalog, ctx.split.train_events()),
        "repeat": lambda ctx: RepeatRecency(ctx.catalog, ctx.split.train_events()),
        "cooc-knn": lambda ctx: CoocKNN(ctx.catalog, ctx.split.train_events()),
        "itemknn-text": lambda ctx: ItemKNNText(ctx.catalog, ctx.item_text_vecs),
        "static-profile": lambda ctx: StaticProfile(
            ctx.catalog, ctx.item_text_vecs, ctx.event_text_encoder
        ),
    }


def fingerprint(folder: Path) -> str:
    """sha256[:16] of the data folder's items.jsonl and events.jsonl."""
    h = hashlib.sha256()
    for name in ("items.jsonl", "events.jsonl"):
        with (folder / name).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def load_truth(data_dir: Path) -> dict[str, Any] | None:
    """The synthetic ground truth, when the folder has one."""
    import json

    path = data_dir / TRUTH_FILE
    if not path.is_file():
        return None
    truth: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return truth


def run_evaluation(
    data_dir: Path,
    options: EvalOptions,
    *,
    model_dir: Path | None,
    factories: Mapping[str, ModelFactory],
    encoder_factory: Callable[[EvalContext], TextEncodeFn],
    log: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Evaluate ``options.models`` (each built by ``factories[name]``) on ``data_dir``."""
    missing = [m for m in options.models if m not in factories]
    if missing:
        raise EvaluationError(f"no way to build model(s) {missing} here")
    folder = read_folder(data_dir, options.times)
    catalog = ItemIndex(folder.items)
    overrides = read_split_file(options.split_file) if options.split_file else None
    split = leave_last_out(folder.events, overrides)
    if not split.users:
        raise EvaluationError(f"{data_dir}: no user has the 3 item events a leave-last-out needs")
    ctx = EvalContext(data_dir, folder, catalog, split, options, model_dir, encoder_factory)
    truth = load_truth(data_dir)
    stream_events: Sequence[Any] = folder.events
    if options.stream_users is not None:
        first_seen = list(dict.fromkeys(e.user_id for e in folder.events))
        keep = set(first_seen[: options.stream_users])
        stream_events = [e for e in folder.events if e.user_id in keep]
    result: dict[str, Any] = {
        "protocol": {
            "split": "split-file"
            if split.from_file
            else "leave-last-out (per user, chronological)",
            "stage": "test",
            "ranking": "full catalog, pessimistic ties",
            "offline_protocols": list(options.protocols),
            "mask_history": options.protocols[0] == "masked",
            "ks": list(options.ks),
            "stream": {
                "order": "each user's events in log order, users batched by position",
                "target": "the user's next item after every event",
                "mask_recent": options.stream_mask_recent,
                "time_to_adapt": f"events after a true switch until >= {ADAPT_SHARE:.0%} of the "
                f"top-{ADAPT_TOP} is the new topic"
                if truth
                else None,
                "users": options.stream_users,
            },
            "options": {
                k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()
            },
        },
        "dataset": {
            "path": str(data_dir),
            "fingerprint": fingerprint(data_dir),
            "items": len(folder.items),
            "events": len(folder.events),
            "users": len({e.user_id for e in folder.events}),
            "evaluated_users": len(split.users),
            "skipped_users": split.skipped_users,
            "train_events": len(split.train_events()),
            "synthetic_truth": truth is not None,
        },
        "models": {},
        "stream": {},
    }
    for name in options.models:
        t0 = time.perf_counter()
        model = factories[name](ctx)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        offline = evaluate_offline(
            model,
            split,
            catalog,
            ks=options.ks,
            batch_users=options.batch_users,
            protocols=options.protocols,
        )
        entry: dict[str, Any] = dict(offline.metrics)
        entry["by_protocol"] = offline.by_protocol
        entry["eval_s"] = round(time.perf_counter() - t0, 2)
        entry["build_s"] = round(build_s, 2)
        entry.update(ctx.extras.get(f"{name}.info", {}))
        result["models"][name] = entry
        log(
            f"{name}: NDCG@10 "
            + ", ".join(
                f"{p} {m.get('NDCG@10', float('nan')):.4f}" for p, m in offline.by_protocol.items()
            )
        )
        if options.stream:
            t0 = time.perf_counter()
            stream = replay_stream(
                model,
                stream_events,
                catalog,
                ks=options.ks,
                mask_recent=options.stream_mask_recent,
                truth=truth,
            )
            result["stream"][name] = {
                "metrics": stream.metrics,
                "predictions": stream.predictions,
                "time_to_adapt": stream.adapt_summary() or None,
                "replay_s": round(time.perf_counter() - t0, 2),
            }
    return result
