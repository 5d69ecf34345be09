"""Results as a readable table, a PNG chart (matplotlib, Agg backend) and the JSON document
``{"protocol": ..., "dataset": ..., "models": {name: {"HR@10": x, ...}}, "stream": ...}``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def table(rows: Mapping[str, Mapping[str, Any]], columns: Sequence[str], title: str) -> str:
    """A fixed-width text table: one row per model, one column per metric."""
    header = ["model", *columns]
    body = [[name, *(_fmt(row.get(c)) for c in columns)] for name, row in rows.items()]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "-" * len(line(header))
    return "\n".join([title, rule, line(header), rule, *(line(r) for r in body), rule])


PROTOCOL_WORDS = {"masked": "masked", "unmasked": "not masked"}


def _info(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in ("train_s", "eval_s") if k in entry}


def metric_columns(ks: Sequence[int]) -> list[str]:
    return [f"{m}@{k}" for k in ks for m in ("HR", "NDCG", "MRR")]


def render_text(result: Mapping[str, Any]) -> str:
    """The stdout report: offline table, stream table (with time-to-adapt when known)."""
    ks = result["protocol"]["ks"]
    ds = result["dataset"]
    parts = [
        f"data: {ds['path']}  ({ds['events']:,} events, {ds['items']:,} items, "
        f"{ds['users']:,} users; {ds['evaluated_users']:,} evaluated)"
    ]
    models = result["models"]
    protocols = result["protocol"].get("offline_protocols") or [
        "masked" if result["protocol"].get("mask_history", True) else "unmasked"
    ]
    for proto in protocols:
        proto_rows = {
            name: {**(m.get("by_protocol", {}).get(proto) or m), **_info(m)}
            for name, m in models.items()
        }
        parts.append(
            table(
                proto_rows,
                [*metric_columns(ks), "train_s", "eval_s"],
                f"offline (leave-last-out, test, history {PROTOCOL_WORDS[proto]}; "
                "train_s: trained here)",
            )
        )
    stream = result.get("stream") or {}
    if stream:
        rows: dict[str, dict[str, Any]] = {}
        for name, s in stream.items():
            row = dict(s["metrics"])
            row["predictions"] = s["predictions"]
            adapt = s.get("time_to_adapt") or {}
            row["adapt_median"] = adapt.get("median_events")
            row["adapted"] = adapt.get("adapted_share")
            rows[name] = row
        columns = [*metric_columns([10]), "predictions"]
        if any(s.get("time_to_adapt") for s in stream.values()):
            columns += ["adapt_median", "adapted"]
        parts.append(table(rows, columns, "stream replay (next item after every event)"))
    return "\n\n".join(parts)


def write_json(result: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def write_chart(result: Mapping[str, Any], path: Path) -> None:
    """Bar charts: offline NDCG@10/HR@10, stream NDCG@10/HR@10 and, on synth, time-to-adapt."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stream = result.get("stream") or {}
    adapt = {n: s["time_to_adapt"] for n, s in stream.items() if s.get("time_to_adapt")}
    panels = 1 + bool(stream) + bool(adapt)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2), squeeze=False)
    ax_list = list(axes[0])

    def bars(ax: Any, rows: Mapping[str, Mapping[str, Any]], title: str) -> None:
        names = list(rows)
        width = 0.38
        for j, metric in enumerate(("NDCG@10", "HR@10")):
            values = [float(rows[n].get(metric) or 0.0) for n in names]
            xs = [i + (j - 0.5) * width for i in range(len(names))]
            ax.bar(xs, values, width, label=metric)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_title(title)
        ax.legend()

    bars(ax_list[0], result["models"], "offline, leave-last-out")
    if stream:
        bars(ax_list[1], {n: s["metrics"] for n, s in stream.items()}, "stream replay")
    if adapt:
        ax = ax_list[-1]
        names = list(adapt)
        medians = [adapt[n].get("median_events_if_adapted") or 0.0 for n in names]
        ax.bar(range(len(names)), medians, color="tab:green")
        for i, n in enumerate(names):
            ax.text(
                i,
                medians[i],
                f"{adapt[n]['adapted_share']:.0%} adapted",
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_title("events to adapt after a switch (median, adapted)")
    fig.suptitle(f"driftrec eval: {Path(result['dataset']['path']).name}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
