"""The validation-chosen gate of issue 13: driftrec's scores blended with a partner's
(``cooc-knn`` or ``itemknn-text``), the weight picked on the validation split per seed and
protocol, then reported on the test split (``encoders/evaluation/blend.py``).

    python -m bench.blendgate --data DIR --checkpoints CK --seeds 0,1,2 --json out.json

``CK/seed-<s>/driftrec/`` are the models ``driftrec eval --seeds ... --save-checkpoints CK``
trained (no training here); ``--model DIR`` instead evaluates one checkpoint (e.g. the packaged
model, ``--seeds`` then only labels it). The lever is kept only if the chosen weight is above 0
and beats driftrec alone on validation for every seed, in the protocol concerned.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from encoders.data.folder import read_folder
from encoders.data.split import Split, Stage, leave_last_out
from encoders.evaluation.base import F32, ItemIndex, StreamModel
from encoders.evaluation.baselines import ItemKNNText
from encoders.evaluation.blend import FixedScores, blend, stage_scores
from encoders.evaluation.driftrec_model import DriftRecStream
from encoders.evaluation.offline import PROTOCOLS, evaluate_offline
from encoders.evaluation.simple import CoocKNN
from encoders.serving import ServingModel

#: Partner weights tried on validation (inf = the partner alone, for reference).
WEIGHTS = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, math.inf)
STAGES: tuple[Stage, ...] = ("valid", "test")
METRIC = "NDCG@10"


def _partner(name: str, catalog: ItemIndex, split: Split, serving: ServingModel) -> StreamModel:
    if name == "cooc-knn":
        return CoocKNN(catalog, split.train_events())
    vecs = np.asarray(serving.encode_texts(catalog.texts()), dtype=np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return ItemKNNText(catalog, vecs)


def _metrics(users: list[str], scores: F32, split: Split, catalog: ItemIndex, stage: Stage) -> Any:
    model = FixedScores("blend", users, scores)
    res = evaluate_offline(model, split, catalog, stage=stage, ks=(10,), protocols=PROTOCOLS)
    return {p: res.by_protocol[p][METRIC] for p in PROTOCOLS}


def run_seed(args: argparse.Namespace, seed: int, split: Split, catalog: ItemIndex) -> Any:
    path = args.model or args.checkpoints / f"seed-{seed}" / "driftrec"
    serving = ServingModel.load(path, device="cpu", cache_dir=args.cache_dir)
    serving.set_cooc(None, 0.0)  # the interest model alone: a served table would blend twice
    drift = DriftRecStream(serving, catalog, repeat=True)
    out: dict[str, Any] = {
        "seed": seed,
        "checkpoint": str(path),
        "version": serving.version,
        "partners": {},
    }
    base = {st: stage_scores(drift, split, st) for st in STAGES}
    for pname in args.partners:
        partner = _partner(pname, catalog, split, serving)
        other = {st: stage_scores(partner, split, st) for st in STAGES}
        table: dict[str, dict[str, dict[str, float]]] = {}
        for w in WEIGHTS:
            table[str(w)] = {
                st: _metrics(base[st][0], blend(base[st][1], other[st][1], w), split, catalog, st)
                for st in STAGES
            }
        chosen = {}
        for proto in PROTOCOLS:
            best = max(WEIGHTS[:-1], key=lambda w: (table[str(w)]["valid"][proto], -w))
            chosen[proto] = {
                "weight": best,
                "valid": table[str(best)]["valid"][proto],
                "valid_driftrec": table["0.0"]["valid"][proto],
                "test": table[str(best)]["test"][proto],
                "test_driftrec": table["0.0"]["test"][proto],
            }
        out["partners"][pname] = {"by_weight": table, "chosen": chosen}
        print(json.dumps({"seed": seed, "partner": pname, "chosen": chosen}), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--checkpoints", type=Path, default=None)
    ap.add_argument("--model", type=Path, default=None, help="one driftrec checkpoint folder")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--partners", default="cooc-knn", help="cooc-knn,itemknn-text")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    args.partners = [p for p in args.partners.split(",") if p]
    if (args.model is None) == (args.checkpoints is None):
        ap.error("give exactly one of --checkpoints and --model")
    folder = read_folder(args.data)
    catalog = ItemIndex(folder.items)
    split = leave_last_out(folder.events)
    t0 = time.perf_counter()
    runs = [run_seed(args, int(s), split, catalog) for s in args.seeds.split(",")]
    verdict = {
        p: {
            proto: all(
                r["partners"][p]["chosen"][proto]["weight"] > 0
                and r["partners"][p]["chosen"][proto]["valid"]
                > r["partners"][p]["chosen"][proto]["valid_driftrec"]
                for r in runs
            )
            for proto in PROTOCOLS
        }
        for p in args.partners
    }
    doc = {
        "data": str(args.data),
        "metric": METRIC,
        "weights": [str(w) for w in WEIGHTS],
        "rule": "weight chosen per seed and protocol on valid; kept only if > 0 and above "
        "driftrec alone on valid for every seed",
        "wins_on_valid_every_seed": verdict,
        "runs": runs,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(verdict))


if __name__ == "__main__":
    main()
