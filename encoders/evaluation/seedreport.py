"""The ``driftrec eval --seeds`` document as text tables (mean ± 95 % half-width per protocol)
and a PNG chart (means with their intervals as error bars)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from encoders.evaluation.intervals import fmt
from encoders.evaluation.report import PROTOCOL_WORDS, metric_columns, table


def _cell(summary: Mapping[str, Any] | None) -> str:
    if not summary:
        return "-"
    return fmt(summary["mean"], summary["half_width"], summary["n"])


def _seeds_cell(entry: Mapping[str, Any]) -> str:
    n = len(entry["seeds"])
    return "fixed" if entry["deterministic"] else str(n)


def render_seeds_text(doc: Mapping[str, Any], ks: Sequence[int] | None = None) -> str:
    """One table per protocol: mean ± half-width of the 95 % t interval over seeds."""
    ks = ks or doc["protocol"]["ks"]
    ds = doc["dataset"]
    seeds = doc["protocol"]["seeds"]["seeds"]
    parts = [
        f"data: {ds['path']}  ({ds['events']:,} events, {ds['items']:,} items, "
        f"{ds['users']:,} users; {ds['evaluated_users']:,} evaluated); seeds {seeds}; "
        "mean ± 95 % t half-width ('fixed': deterministic, one run)"
    ]
    columns = (
        [f"{m}@{k}" for k in ks for m in ("HR", "NDCG")] if len(ks) > 1 else metric_columns(ks)
    )
    for proto in doc["protocol"]["offline_protocols"]:
        rows = {
            name: {
                **{c: _cell(entry["by_protocol"].get(proto, {}).get(c)) for c in columns},
                "seeds": _seeds_cell(entry),
            }
            for name, entry in doc["models"].items()
        }
        parts.append(
            table(
                rows,
                [*columns, "seeds"],
                f"offline (leave-last-out, test, history {PROTOCOL_WORDS[proto]})",
            )
        )
    stream = doc.get("stream") or {}
    if stream:
        rows = {
            n: {c: _cell(s["metrics"].get(c)) for c in ("HR@10", "NDCG@10")}
            for n, s in stream.items()
        }
        parts.append(
            table(rows, ["HR@10", "NDCG@10"], "stream replay (next item after every event)")
        )
    if not doc.get("complete", True):
        pending = ", ".join(f"{p['model']} seed {p['seed']}" for p in doc.get("pending", []))
        parts.append(f"INCOMPLETE: not run: {pending}")
    return "\n\n".join(parts)


def write_seeds_chart(doc: Mapping[str, Any], path: Path, metric: str = "NDCG@10") -> None:
    """One panel per protocol: ``metric`` mean per model with its 95 % interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = list(doc["protocol"]["offline_protocols"])
    fig, axes = plt.subplots(1, len(protocols), figsize=(5.5 * len(protocols), 4.2), squeeze=False)
    for ax, proto in zip(axes[0], protocols, strict=True):
        names = list(doc["models"])
        stats = [doc["models"][n]["by_protocol"][proto][metric] for n in names]
        ax.bar(
            range(len(names)),
            [s["mean"] for s in stats],
            yerr=[s["half_width"] for s in stats],
            capsize=4,
            color=["tab:red" if n == "driftrec" else "tab:blue" for n in names],
        )
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_title(f"{metric}, history {PROTOCOL_WORDS[proto]}")
    seeds = doc["protocol"]["seeds"]["seeds"]
    done = "" if doc.get("complete", True) else "; INCOMPLETE, see 'pending'"
    fig.suptitle(
        f"driftrec eval: {Path(doc['dataset']['path']).name}, seeds {seeds} (95 % t interval{done})"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
