"""Train driftrec's GRU4Rec or SASRec on a data folder and test it as ``run_recbole.py`` tests
RecBole's: leave-one-out, full ranking, history not masked, HR/NDCG/MRR at 5/10/20.

    python -m bench.recbole.run_ours KIND DATA_DIR OUT.json [--seed 0] [--epochs 300] [--threads 1]

Training is :func:`encoders.training.train_model` at the baselines' defaults
(``TrainConfig.for_kind``), as ``driftrec train`` and ``driftrec eval`` run it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from encoders.data.folder import read_folder
from encoders.data.split import leave_last_out
from encoders.training.loop import TrainConfig, evaluate_split, train_model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["gru4rec", "sasrec"])
    p.add_argument("data_dir", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = read_folder(args.data_dir)
    split = leave_last_out(data.events)
    tc = TrainConfig.for_kind(args.kind, epochs=args.epochs, device="cpu", progress=True)
    t0 = time.perf_counter()
    trained = train_model(data, args.kind, seed=args.seed, train_config=tc, split=split)
    seconds = time.perf_counter() - t0
    test = evaluate_split(trained, split, "test", mask_history=False)
    doc = {
        "system": "driftrec",
        "model": args.kind,
        "data": str(args.data_dir),
        "users": len(split.users),
        "skipped_users": split.skipped_users,
        "config": trained.config.to_json(),
        "train": {k: v for k, v in tc.__dict__.items()},
        "seed": args.seed,
        "best_epoch": trained.metrics.get("best_epoch"),
        "epochs_run": len(trained.history),
        "valid": {k[6:]: v for k, v in trained.metrics.items() if k.startswith("valid_")},
        "test": test,
        "history": trained.history,
        "seconds": round(seconds, 1),
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_avg_at_end": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"model": args.kind, "test": test, "seconds": doc["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
