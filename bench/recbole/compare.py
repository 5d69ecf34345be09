"""Put driftrec's and RecBole's runs side by side: per-epoch validation NDCG@10 and the test
metrics, from ``run_ours.py`` JSON and RecBole's log (and its ``run_recbole.py`` JSON, once the run
has finished).

    python -m bench.recbole.compare OUT.json MODEL OURS.json RECBOLE.log [RECBOLE.json]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any


def recbole_valid_curve(log_text: str) -> list[float]:
    """Validation NDCG@10 after each epoch, from RecBole's ``valid result`` log lines."""
    return [float(x) for x in re.findall(r"valid result: \n.*?ndcg@10 : ([0-9.]+)", log_text)]


def main(argv: list[str]) -> int:
    out, model, ours_path, log_path = Path(argv[0]), argv[1], Path(argv[2]), Path(argv[3])
    ours = json.loads(ours_path.read_text(encoding="utf-8"))
    rb_curve = recbole_valid_curve(log_path.read_text(encoding="utf-8"))
    our_curve = [h["NDCG@10"] for h in ours["history"]]
    both = min(len(rb_curve), len(our_curve))
    doc: dict[str, Any] = {
        "model": model,
        "valid_NDCG@10_per_epoch": {"driftrec": our_curve, "recbole": rb_curve},
        "epochs_both_ran": both,
        "mean_abs_gap_valid_NDCG@10": round(
            sum(abs(a - b) for a, b in zip(our_curve, rb_curve, strict=False)) / max(both, 1), 4
        ),
        "driftrec": {
            "test": ours["test"],
            "best_epoch": ours["best_epoch"],
            "epochs": len(our_curve),
        },
        "recbole": None,
    }
    if len(argv) > 4 and Path(argv[4]).is_file():
        rb = json.loads(Path(argv[4]).read_text(encoding="utf-8"))
        test = {k.replace("hit", "HR").replace("ndcg", "NDCG").replace("mrr", "MRR"): v
                for k, v in rb["test"].items()}  # fmt: skip
        doc["recbole"] = {"test": test, "epochs": len(rb_curve)}
        ndcg_ours, ndcg_rb = ours["test"]["NDCG@10"], test["NDCG@10"]
        doc["test_NDCG@10_ratio_ours_over_recbole"] = round(ndcg_ours / ndcg_rb, 3)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in doc.items() if k != "valid_NDCG@10_per_epoch"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
