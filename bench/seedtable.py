"""Mean and 95 % interval over seeds, from committed ``driftrec eval`` result files.

    python -m bench.seedtable bench/results/eval/qmodel/sample-masked-seed*.json [--metric NDCG@10]
    python -m bench.seedtable one-seed.json seeds.json --protocol unmasked

Prints one markdown row per model: mean ± half-width of the two-sided 95 % Student-t interval
(``encoders/evaluation/intervals.py``) over every value found for it, and how many values. A file
is either one ``driftrec eval`` run (one value per model and metric) or a ``driftrec eval --seeds``
document (its per-seed ``values``); the caller makes sure no seed is given twice.
``--protocol`` reads ``by_protocol.<protocol>`` (default: the file's first protocol).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from encoders.evaluation.intervals import fmt, interval


def values(entry: dict[str, Any], metric: str, protocol: str | None) -> list[float]:
    """The values of ``metric`` in one model entry of either document shape."""
    source = entry["by_protocol"][protocol] if protocol is not None else entry
    if protocol is None and metric not in entry:  # a --seeds document has no top-level metrics
        source = next(iter(entry["by_protocol"].values()))
    value = source[metric]
    return [float(v) for v in value["values"]] if isinstance(value, dict) else [float(value)]


def rows(docs: list[dict[str, Any]], metrics: list[str], protocol: str | None = None) -> list[str]:
    models = list(dict.fromkeys(m for d in docs for m in d["models"]))
    out = []
    for model in models:
        cells = []
        n = 0
        for metric in metrics:
            vals = [
                v for d in docs if model in d["models"]
                for v in values(d["models"][model], metric, protocol)
            ]  # fmt: skip
            mean, half = interval(vals)
            cells.append(fmt(mean, half, len(vals)))
            n = len(vals)
        out.append(f"| {model} | " + " | ".join(cells) + f" | {n} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--metric", action="append", default=None)
    ap.add_argument("--protocol", choices=["masked", "unmasked"], default=None)
    args = ap.parse_args()
    metrics = args.metric or ["HR@10", "NDCG@10"]
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in args.files]
    print("| model | " + " | ".join(metrics) + " | values |")
    print("|---|" + "---|" * len(metrics) + "---|")
    print("\n".join(rows(docs, metrics, args.protocol)))


if __name__ == "__main__":
    main()
