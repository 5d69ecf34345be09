"""One round of the loop: train a candidate from the log, judge it against the champion, register.

1. The log window (:mod:`streams.trainer.logdata`) is cut in time
   (:func:`encoders.evaluation.holdout.time_split`): the newest ``holdout_frac`` of its events are
   held out.
2. The existing trainer (:func:`encoders.training.loop.train_model`) learns a driftrec model from
   the events before the cut only (its own leave-last-out validation inside for early stopping).
3. The candidate and the current champion are scored on the holdout through the serving code path
   (:func:`encoders.evaluation.holdout.evaluate_holdout`); the champion keeps its crown unless the
   candidate's NDCG@10 is higher by more than ``min_gain``.
4. The candidate goes into the model store and the registry with its data window, both holdout
   results and its lineage (parent = the champion it was judged against): promoted, or kept as
   the challenger with the reason it was refused.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from encoders.data.folder import DataFolder
from encoders.evaluation.base import ItemIndex
from encoders.evaluation.driftrec_model import DriftRecStream
from encoders.evaluation.holdout import PRIMARY, beats, evaluate_holdout, time_split
from encoders.serving import ServingModel
from encoders.textcache import TextVectorCache
from encoders.textenc import TextEncoder
from encoders.training.loop import TrainConfig, train_model
from streams.registry.loader import load_serving
from streams.registry.state import ModelEntry, Record, RegistryState
from streams.registry.transport import Registry, store_path
from streams.settings import Settings
from streams.trainer.logdata import LogData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What a round decided, and on what evidence."""

    version: str
    promoted: bool
    reason: str
    candidate: dict[str, float]  # holdout metrics
    champion: dict[str, float] | None  # the champion's on the same holdout (None: no champion)
    champion_version: str | None
    data_window: dict[str, Any]
    train_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "promoted": self.promoted,
            "reason": self.reason,
            "holdout": self.candidate,
            "champion_holdout": self.champion,
            "champion": self.champion_version,
            "data_window": self.data_window,
            "train_seconds": round(self.train_seconds, 2),
        }


def make_encoder(settings: Settings, device: str) -> TextEncoder:
    """The text encoder the trainer uses (the workers' persistent text cache)."""
    return TextEncoder(
        settings.text_encoder, device=device, cache=TextVectorCache(settings.cache_dir)
    )


def holdout_metrics(
    model: ServingModel, data: LogData, catalog: ItemIndex, cut_ts: float
) -> dict[str, float]:
    stream = DriftRecStream(model, catalog)
    result = evaluate_holdout(stream, data.folder.events, catalog, cut_ts)
    return {**result.metrics, "predictions": float(result.predictions)}


def run_round(
    settings: Settings,
    data: LogData,
    *,
    registry: Registry,
    train_config: TrainConfig,
    holdout_frac: float = 0.2,
    min_gain: float = 0.0,
    seed: int = 0,
    promote: bool = True,
    encoder: TextEncoder | None = None,
) -> Verdict:
    """Train, judge and register one candidate; promote it when ``promote`` and it is better."""
    split = time_split(data.folder.events, holdout_frac)
    window = {
        **data.window,
        "holdout_cut_ts": split.cut_ts,
        "train_events": len(split.train),
        "holdout_events": split.holdout_events,
    }
    encoder = encoder or make_encoder(settings, train_config.device)
    train_data = DataFolder(items=data.folder.items, events=split.train)
    log.info("training on %d events before the cut, %d held out", *_sizes(split))
    trained = train_model(
        train_data, "driftrec", seed=seed, train_config=train_config, encoder=encoder
    )
    catalog = ItemIndex(data.folder.items)
    state = registry.state()
    champion = state.champion
    with tempfile.TemporaryDirectory(prefix="driftrec-candidate-") as tmp:
        out = Path(tmp) / "model"
        version = trained.save(out)
        cand = holdout_metrics(load_serving(settings, out, encoder), data, catalog, split.cut_ts)
        champ = None
        if champion is not None:
            served = load_serving(settings, store_path(settings, champion), encoder)
            champ = holdout_metrics(served, data, catalog, split.cut_ts)
        promoted, reason = _decide(version, cand, champ, champion, min_gain, promote)
        lineage = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_window": window,
            "metrics": {"holdout": cand, "champion_holdout": champ, "valid": trained.metrics},
            "parent": champion,
            "trainer": {"seed": seed, "holdout_frac": holdout_frac, "min_gain": min_gain},
        }
        if version != champion:
            _, path = registry.store.add(out, lineage)
            promoted, reason = _register(registry, version, path, lineage, reason, promoted)
    log.info("candidate %s: %s", version, reason)
    return Verdict(version, promoted, reason, cand, champ, champion, window, trained.train_seconds)


def _sizes(split: Any) -> tuple[int, int]:
    return len(split.train), split.holdout_events


def _decide(
    version: str,
    cand: dict[str, float],
    champ: dict[str, float] | None,
    champion: str | None,
    min_gain: float,
    promote: bool,
) -> tuple[bool, str]:
    c = cand.get(PRIMARY, 0.0)
    if version == champion:
        return False, "identical to the champion (same weights and config)"
    if champ is None:
        return promote, f"first model: holdout {PRIMARY} {c:.4f}"
    o = champ.get(PRIMARY, 0.0)
    if beats(cand, champ, min_gain):
        verb = "promoted" if promote else "better than the champion (not promoted: --no-promote)"
        return promote, f"{verb}: holdout {PRIMARY} {c:.4f} > champion {champion} {o:.4f}"
    return False, (
        f"refused: holdout {PRIMARY} {c:.4f} does not beat champion {champion} {o:.4f}"
        f" by more than {min_gain:.4f}; kept as challenger"
    )


def _register(
    registry: Registry,
    version: str,
    path: Path,
    lineage: dict[str, Any],
    reason: str,
    promoted: bool,
) -> tuple[bool, str]:
    """Register the candidate in one registry write; (promoted, reason) as written.

    The candidate was judged against ``lineage["parent"]``: when someone promoted or rolled back
    meanwhile, the verdict no longer holds and the candidate is kept as challenger instead of
    silently replacing a champion it never met.
    """
    entry = ModelEntry(
        version=version,
        status="challenger",
        created=str(lineage["created"]),
        path=str(path),
        data_window=dict(lineage["data_window"]),
        metrics=dict(lineage["metrics"]),
        parent=lineage["parent"],
        reason=reason,
        updated=time.time(),
    )
    written = {"promoted": promoted, "reason": reason}

    def transition(state: RegistryState) -> list[Record]:
        if promoted and state.champion != entry.parent:
            why = (
                f"not promoted: the champion changed during the round ({entry.parent} -> "
                f"{state.champion}); kept as challenger"
            )
            written.update(promoted=False, reason=why)
            return state.register(replace(entry, reason=why))
        written.update(promoted=promoted, reason=reason)
        if promoted:
            return state.register_promoted(entry, reason=reason, now=time.time())
        return state.register(entry)

    registry.update(transition)
    return bool(written["promoted"]), str(written["reason"])
