"""A small, documented hyper-parameter sweep of driftrec's model levers (issue 13).

Each variant is trained by the ordinary trainer on a data folder's leave-last-out split and scored
on the valid and test targets through the training scorer (the sequence forward, which the
streaming step reproduces to 1e-5), history masked and kept. Results go to one JSON file; the
defaults in ``encoders/config.py`` / ``encoders/training.py`` are chosen from such runs on more
than one data set, never from one.

    python -m bench.sweep --data DIR [--users 1000] --variants base,dot,... --seeds 0 \\
        --epochs 30 --patience 10 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from encoders.config import ModelConfig
from encoders.data.folder import DataFolder, read_folder
from encoders.data.split import leave_last_out
from encoders.textcache import TextVectorCache
from encoders.textenc import TextEncoder
from encoders.training.loop import TrainConfig, train_model
from encoders.training.scoring import evaluate_split

#: name -> (ModelConfig overrides, TrainConfig overrides). "base" = the defaults before issue 13.
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "base": ({}, {}),
    "t05": ({}, {"temperature": 0.05}),
    "dot": ({"scoring": "dot"}, {}),
    "mix": ({"learn_mix": True}, {}),
    "att": ({"attention_window": 10}, {}),
    "rep": ({"repeat_window": 20}, {}),
    "noid": ({}, {"item_ids": False}),
    "dot-att": ({"scoring": "dot", "attention_window": 10}, {}),
    "t05-att": ({"attention_window": 10}, {"temperature": 0.05}),
    "t05-att-mix": ({"attention_window": 10, "learn_mix": True}, {"temperature": 0.05}),
    "t05-att-mix-rep": (
        {"attention_window": 10, "learn_mix": True, "repeat_window": 20},
        {"temperature": 0.05},
    ),
    "dot-att-mix-rep": (
        {"scoring": "dot", "attention_window": 10, "learn_mix": True, "repeat_window": 20},
        {},
    ),
    "all": (
        {"attention_window": 20, "learn_mix": True, "repeat_window": 20},
        {"temperature": 0.05},
    ),
    "d128": ({"dim": 128}, {}),
    # Step-rich training: 4x smaller batches of 50-event windows (many more updates per epoch).
    "b16": ({}, {"batch_size": 16, "max_len": 50}),
    "b16-t05": ({}, {"batch_size": 16, "max_len": 50, "temperature": 0.05}),
    "b16-t05-att-mix-rep": (
        {"attention_window": 10, "learn_mix": True, "repeat_window": 20},
        {"batch_size": 16, "max_len": 50, "temperature": 0.05},
    ),
}


def subsample(data: DataFolder, users: int | None) -> DataFolder:
    """The first ``users`` users in log order (all of their events), the whole catalog."""
    if users is None:
        return data
    keep = set(list(dict.fromkeys(e.user_id for e in data.events))[:users])
    return DataFolder(data.items, [e for e in data.events if e.user_id in keep])


def table(paths: list[Path]) -> str:
    """Markdown rows (data, variant, seeds, mean test NDCG@10 masked / unmasked, best epochs) of
    sweep result files: ``python -m bench.sweep --table FILE...``."""
    lines = [
        "| data | variant | training | seeds | test NDCG@10 masked | test NDCG@10 unmasked "
        "| valid (masked) | best epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        data = Path(doc["data"]).name + (f" ({doc['users']} users)" if doc["users"] else "")
        for name in dict.fromkeys(r["variant"] for r in doc["runs"]):
            runs = [r for r in doc["runs"] if r["variant"] == name]

            def mean(key: str, runs: list[dict[str, Any]] = runs) -> str:
                vals = [float(r[key]) for r in runs]
                return f"{sum(vals) / len(vals):.4f}" + (
                    f" ({min(vals):.4f}-{max(vals):.4f})" if len(vals) > 1 else ""
                )

            seeds = ",".join(str(r["seed"]) for r in runs)
            epochs = ",".join(str(r["best_epoch"]) for r in runs)
            train = " ".join(f"{k}={v}" for k, v in sorted(runs[0]["train"].items())) or "-"
            lines.append(
                f"| {data} | {name} | {train} | {seeds} | {mean('test_masked')} "
                f"| {mean('test_unmasked')} | {mean('valid_masked')} | {epochs} |"
            )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--table":
        print(table([Path(p) for p in sys.argv[2:]]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--users", type=int, default=None)
    ap.add_argument("--variants", default="base")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--max-len", type=int, default=None)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    data = subsample(read_folder(args.data), args.users)
    split = leave_last_out(data.events)
    cache = TextVectorCache(args.cache_dir) if args.cache_dir else None
    encoder = TextEncoder(device="cpu", cache=cache)
    out: dict[str, Any] = {
        "data": str(args.data),
        "users": args.users,
        "evaluated_users": len(split.users),
        "items": len(data.items),
        "events": len(data.events),
        "epochs": args.epochs,
        "patience": args.patience,
        "runs": json.loads(args.json.read_text())["runs"] if args.json.exists() else [],
    }
    for name in args.variants.split(","):
        mk, tk = VARIANTS[name]
        for seed in (int(s) for s in args.seeds.split(",")):
            base = TrainConfig(epochs=args.epochs, patience=args.patience, progress=False)
            if args.batch_size:
                base = replace(base, batch_size=args.batch_size)
            if args.max_len:
                base = replace(base, max_len=args.max_len)
            tc = replace(base, **tk)
            t0 = time.perf_counter()
            trained = train_model(
                data,
                "driftrec",
                replace(ModelConfig(), **mk),
                seed,
                train_config=tc,
                split=split,
                encoder=encoder,
            )
            row = {
                "variant": name,
                "seed": seed,
                "model": mk,
                "train": {
                    k: v
                    for k, v in asdict(tc).items()
                    if k in tk or k in ("batch_size", "max_len", "temperature")
                },
                "best_epoch": trained.metrics.get("best_epoch"),
                "epochs_run": len(trained.history),
                "train_s": round(time.perf_counter() - t0, 1),
                "valid_masked": evaluate_split(trained, split, "valid")["NDCG@10"],
                "test_masked": evaluate_split(trained, split, "test")["NDCG@10"],
                "test_unmasked": evaluate_split(trained, split, "test", mask_history=False)[
                    "NDCG@10"
                ],
            }
            print(json.dumps(row), flush=True)
            out["runs"].append(row)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
