"""Run RecBole 1.2.1's GRU4Rec or SASRec at its defaults on atomic files from ``atomic.py``.

Runs in RecBole's own virtualenv, not driftrec's (docs/evaluation.md says how it was built):

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 RECBOLE_VENV/bin/python bench/recbole/run_recbole.py \
        MODEL ATOMIC_DIR NAME OUT.json [--batch 256] [--seed 2020] [--epochs 300] [--threads 1]

Everything is RecBole's default for the model and trainer except what the protocol needs:
leave-one-out by time (``LS: valid_and_test``, ``order: TO``), full ranking, HR/NDCG/MRR at
5/10/20, early stopping on NDCG@10 (RecBole's default is MRR@10), CE loss so no training
negatives, the CPU, and ``train_batch_size`` (256 as driftrec's baselines; RecBole's default
is 2048). RecBole masks no history items for sequential models (FullSortEvalDataLoader gives
them no history index), so this is the unmasked protocol.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("model", choices=["GRU4Rec", "SASRec"])
    p.add_argument("atomic_dir", type=Path)
    p.add_argument("name")
    p.add_argument("out", type=Path)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    import recbole  # type: ignore[import-not-found]  # RecBole's own virtualenv
    import torch
    from recbole.quick_start import run_recbole  # type: ignore[import-not-found]

    # One intra-op thread: on a shared 2-core machine two threads ran 17x slower (spin waits).
    torch.set_num_threads(args.threads)

    config = {
        "data_path": str(args.atomic_dir),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "eval_args": {
            "split": {"LS": "valid_and_test"},
            "order": "TO",
            "group_by": "user",
            "mode": "full",
        },
        "train_neg_sample_args": None,
        "metrics": ["Hit", "NDCG", "MRR"],
        "topk": [5, 10, 20],
        "valid_metric": "NDCG@10",
        "train_batch_size": args.batch,
        "epochs": args.epochs,
        "seed": args.seed,
        "use_gpu": False,
        "device": "cpu",
        "show_progress": False,
        "checkpoint_dir": str(args.out.parent / f".recbole-saved-{args.model}"),
    }
    t0 = time.perf_counter()
    result = run_recbole(model=args.model, dataset=args.name, config_dict=config)
    seconds = time.perf_counter() - t0
    doc = {
        "system": "RecBole",
        "recbole": recbole.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "model": args.model,
        "dataset": args.name,
        "config_overrides": config,
        "best_valid_score": float(result["best_valid_score"]),
        "valid": {k: float(v) for k, v in result["best_valid_result"].items()},
        "test": {k: float(v) for k, v in result["test_result"].items()},
        "seconds": round(seconds, 1),
        "threads": args.threads,
        "load_avg_at_end": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"model": args.model, "test": doc["test"], "seconds": doc["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
