"""Mean and 95 % interval over seeds, from committed ``driftrec eval --json`` files.

    python -m bench.seedtable bench/results/eval/qmodel/sample-masked-seed*.json [--metric NDCG@10]

Prints one markdown row per model: mean ± half-width of the two-sided 95 % Student-t interval
over the files (one file per seed; n = 1 gives the value alone), and the seeds used.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from encoders.evaluation.intervals import fmt, interval


def rows(docs: list[dict[str, Any]], metrics: list[str]) -> list[str]:
    models = list(dict.fromkeys(m for d in docs for m in d["models"]))
    out = []
    for model in models:
        cells = []
        for metric in metrics:
            vals = [d["models"][model][metric] for d in docs if model in d["models"]]
            mean, half = interval(vals)
            cells.append(fmt(mean, half, len(vals)))
        n = sum(model in d["models"] for d in docs)
        out.append(f"| {model} | " + " | ".join(cells) + f" | {n} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--metric", action="append", default=None)
    args = ap.parse_args()
    metrics = args.metric or ["HR@10", "NDCG@10"]
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in args.files]
    print("| model | " + " | ".join(metrics) + " | seeds |")
    print("|---|" + "---|" * len(metrics) + "---|")
    print("\n".join(rows(docs, metrics)))


if __name__ == "__main__":
    main()
