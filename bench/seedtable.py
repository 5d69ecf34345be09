"""Mean and 95 % interval over seeds, from committed ``driftrec eval --json`` files.

    python -m bench.seedtable bench/results/eval/qmodel/sample-masked-seed*.json [--metric NDCG@10]

Prints one markdown row per model: mean ± half-width of the two-sided 95 % Student-t interval
over the files (one file per seed; n = 1 gives the value alone), and the seeds used.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

#: Two-sided 95 % Student-t quantiles by degrees of freedom (n - 1).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def interval(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of the 95 % t interval); half-width 0.0 for one value."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    half = T95.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, half


def rows(docs: list[dict[str, Any]], metrics: list[str]) -> list[str]:
    models = list(dict.fromkeys(m for d in docs for m in d["models"]))
    out = []
    for model in models:
        cells = []
        for metric in metrics:
            vals = [d["models"][model][metric] for d in docs if model in d["models"]]
            mean, half = interval(vals)
            cells.append(f"{mean:.4f} ± {half:.4f}" if len(vals) > 1 else f"{mean:.4f}")
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
