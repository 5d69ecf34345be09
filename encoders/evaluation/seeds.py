"""``driftrec eval --seeds``: every seeded model trained and evaluated once per seed, the
deterministic ones once, and one document with the per-seed values, their mean and the 95 %
Student-t interval (:mod:`encoders.evaluation.intervals`) per model, protocol and metric.

The deterministic models go first, in one run; then the seeded ones model by model in
``options.models`` order (all seeds of one model, then the next). ``on_update`` receives the
document after every run, so an interrupted run still leaves every seed that finished, with
``complete: false`` and the runs still to do in ``pending``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from encoders.evaluation.base import EvaluationError, TextEncodeFn
from encoders.evaluation.intervals import summarise
from encoders.evaluation.runner import EvalContext, EvalOptions, ModelFactory, run_evaluation

#: Models trained by ``driftrec eval`` itself, whose result depends on the seed.
SEEDED_MODELS: frozenset[str] = frozenset({"gru4rec", "sasrec", "driftrec"})
#: Per-run facts kept next to the metrics of each seed.
RUN_INFO = (
    "train_s",
    "eval_s",
    "build_s",
    "best_epoch",
    "valid_NDCG@10",
    "cooc_weight",
    "version",
    "source",
    "saved_to",
)


def plan(models: Sequence[str], seeds: Sequence[int]) -> list[tuple[tuple[str, ...], int]]:
    """(models, seed) runs in order: the deterministic models together, once, with the first
    seed; then every seed of each seeded model."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise EvaluationError(f"seeds must be distinct and at least one, got {list(seeds)}")
    fixed = tuple(m for m in models if m not in SEEDED_MODELS)
    runs = [(fixed, seeds[0])] if fixed else []
    return runs + [((m,), s) for m in models if m in SEEDED_MODELS for s in seeds]


def _aggregate(per_seed: Mapping[int, Mapping[str, Any]], deterministic: bool) -> dict[str, Any]:
    seeds = list(per_seed)
    first = per_seed[seeds[0]]
    entry: dict[str, Any] = {"deterministic": deterministic, "seeds": seeds, "by_protocol": {}}
    for proto, metrics in first["by_protocol"].items():
        out: dict[str, Any] = {"users": metrics.get("users")}
        for name in metrics:
            if name == "users":
                continue
            out[name] = summarise([float(per_seed[s]["by_protocol"][proto][name]) for s in seeds])
        entry["by_protocol"][proto] = out
    entry["per_seed"] = {
        str(s): {k: run[k] for k in RUN_INFO if k in run} for s, run in per_seed.items()
    }
    return entry


def _aggregate_stream(per_seed: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    seeds = list(per_seed)
    metrics = per_seed[seeds[0]]["metrics"]
    return {
        "seeds": seeds,
        "metrics": {
            k: summarise([float(per_seed[s]["metrics"][k]) for s in seeds]) for k in metrics
        },
        "predictions": per_seed[seeds[0]]["predictions"],
        "time_to_adapt": {str(s): per_seed[s].get("time_to_adapt") for s in seeds},
    }


def run_seeds(
    data_dir: Path,
    options: EvalOptions,
    seeds: Sequence[int],
    *,
    factories: Mapping[str, ModelFactory],
    encoder_factory: Callable[[EvalContext], TextEncodeFn],
    log: Callable[[str], None] = lambda _msg: None,
    on_update: Callable[[dict[str, Any]], None] = lambda _doc: None,
) -> dict[str, Any]:
    """Evaluate ``options.models`` over ``seeds`` (see the module doc); returns the document."""
    runs = plan(options.models, seeds)
    offline: dict[str, dict[int, dict[str, Any]]] = {}
    stream: dict[str, dict[int, dict[str, Any]]] = {}
    doc: dict[str, Any] = {}
    t_start = time.perf_counter()
    for i, (models, seed) in enumerate(runs):
        log(f"run {i + 1}/{len(runs)}: {','.join(models)} seed {seed}")
        one = run_evaluation(
            data_dir,
            replace(options, models=models, seed=seed),
            model_dir=None,
            factories=factories,
            encoder_factory=encoder_factory,
            log=log,
        )
        for model in models:
            offline.setdefault(model, {})[seed] = one["models"][model]
            if model in one["stream"]:
                stream.setdefault(model, {})[seed] = one["stream"][model]
        if not doc:
            doc = {"protocol": one["protocol"], "dataset": one["dataset"]}
            opts = dict(doc["protocol"]["options"])
            opts.pop("seed", None)
            opts.pop("models", None)
            doc["protocol"]["options"] = opts
            doc["protocol"]["seeds"] = {
                "seeds": list(seeds),
                "seeded_models": [m for m in options.models if m in SEEDED_MODELS],
                "interval": "two-sided 95 % Student-t over seeds: mean ± t(0.975, n-1) s/sqrt(n)",
                "deterministic": "run once (with the first seed): the seed does not change them",
            }
        doc["models"] = {
            m: _aggregate(offline[m], m not in SEEDED_MODELS)
            for m in options.models
            if m in offline
        }
        doc["stream"] = {m: _aggregate_stream(stream[m]) for m in options.models if m in stream}
        doc["complete"] = i + 1 == len(runs)
        doc["pending"] = [{"model": m, "seed": s} for ms, s in runs[i + 1 :] for m in ms]
        doc["wall_s"] = round(time.perf_counter() - t_start, 1)
        on_update(doc)
    return doc
