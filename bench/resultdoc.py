"""The benchmark report: its JSON skeleton, the performance targets, and the markdown table.

The JSON always carries every headline key (``throughput``, ``latency_ms``,
``incremental_vs_recompute``, ``batching_ratio``, ``profile_bytes``, ``machine``); a figure whose
section could not run is ``null`` and the reason is under ``skipped``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def skeleton() -> dict[str, Any]:
    """The report with every headline key present and every figure unknown."""
    return {
        "schema": 1,
        "machine": None,
        "throughput": {"driftrec_events_per_s": None, "bare_events_per_s": None, "ratio": None},
        "latency_ms": {},
        "incremental_vs_recompute": {},
        "batching_ratio": None,
        "profile_bytes": None,
        "skipped": {},
        "errors": {},
    }


@dataclass(frozen=True)
class Target:
    """One performance target: where its figure lives in the report and the goal it must meet."""

    name: str
    goal: str
    get: Callable[[dict[str, Any]], float | None]
    ok: Callable[[float], bool]
    unit: str = ""


def _path(*keys: str) -> Callable[[dict[str, Any]], float | None]:
    def get(report: dict[str, Any]) -> float | None:
        node: Any = report
        for k in keys:
            if not isinstance(node, dict) or node.get(k) is None:
                return None
            node = node[k]
        return float(node)

    return get


TARGETS = (
    Target(
        "throughput vs bare pass-through",
        ">= 0.5x",
        _path("throughput", "ratio"),
        lambda v: v >= 0.5,
        "x",
    ),
    Target(
        "p99 latency at 1,000 events/s",
        "< 100 ms",
        _path("latency_ms", "1000", "p99"),
        lambda v: v < 100.0,
        " ms",
    ),
    Target(
        "incremental step vs recompute, history 200, 1 user",
        ">= 30x",
        _path("incremental_vs_recompute", "200"),
        lambda v: v >= 30.0,
        "x",
    ),
    Target(
        "incremental vs recompute, history 200, worker batch",
        ">= 30x",
        _path("incremental_vs_recompute_batched", "200"),
        lambda v: v >= 30.0,
        "x",
    ),
    Target("packed profile size", "< 2 KiB", _path("profile_bytes"), lambda v: v < 2048.0, " B"),
)


def check_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target's measured value and whether it is met (``None`` when not measured)."""
    out = []
    for t in TARGETS:
        value = t.get(report)
        out.append(
            {
                "name": t.name,
                "goal": t.goal,
                "value": value,
                "met": None if value is None else bool(t.ok(value)),
            }
        )
    return out


def fmt(value: Any, digits: int = 3) -> str:
    """A figure for the table: ``-`` when unknown, 3 significant digits, thousands separated."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 10 ** (digits - 1):
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _rows(report: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    tp = report.get("throughput") or {}
    rows.append(
        [
            "throughput, 1 worker (events/s)",
            fmt(tp.get("driftrec_events_per_s")),
            fmt(tp.get("bare_events_per_s")),
            fmt(tp.get("ratio")),
        ]
    )
    bare_lat = report.get("latency_ms_bare") or {}
    for rate, lat in (report.get("latency_ms") or {}).items():
        b = bare_lat.get(rate) or {}
        label = f"latency p50 / p99 at {rate} events/s (ms)"
        rows.append(
            [
                label,
                f"{fmt(lat.get('p50'))} / {fmt(lat.get('p99'))}",
                f"{fmt(b.get('p50'))} / {fmt(b.get('p99'))}" if b else "-",
                "",
            ]
        )
    for rate, lat in bare_lat.items():
        if rate not in (report.get("latency_ms") or {}):
            rows.append(
                [
                    f"latency p50 / p99 at {rate} events/s (ms)",
                    "-",
                    f"{fmt(lat.get('p50'))} / {fmt(lat.get('p99'))}",
                    "",
                ]
            )
    so = report.get("scale_out") or {}
    if so.get("driftrec") or so.get("bare"):

        def one_two(who: str) -> str:
            s = so.get(who)
            if not s:
                return "-"
            one, two = s.get("one_worker_events_per_s"), s.get("two_workers_events_per_s")
            return f"{fmt(one)} -> {fmt(two)} (x{fmt(s.get('ratio'))})"

        rows.append(
            [
                f"1 -> 2 workers on {so.get('partitions', 4)} partitions (events/s)",
                one_two("driftrec"),
                one_two("bare"),
                "",
            ]
        )
    return rows


def _figure_rows(report: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    batched = report.get("incremental_vs_recompute_batched") or {}
    for length, ratio in (report.get("incremental_vs_recompute") or {}).items():
        value = fmt(ratio) + "x"
        if batched.get(length) is not None:
            value += f" (1 user), {fmt(batched[length])}x (worker batch)"
        rows.append([f"incremental step vs recompute, history {length}", value])
    eng = (report.get("engine_batching") or {}).get("events_per_s") or {}
    if eng:
        sizes = " / ".join(f"{fmt(v)} (batch {k})" for k, v in eng.items())
        rows.append(["model side alone (engine, no Kafka), events/s", sizes])
    if report.get("batching_ratio") is not None:
        rows.append(
            ["batching: default batch vs batch size 1", fmt(report["batching_ratio"]) + "x"]
        )
    enc = report.get("encoder") or {}
    for key, label in (
        ("miss_texts_per_s", "encoder texts/s, cache misses"),
        ("hit_texts_per_s", "encoder texts/s, cache hits"),
        ("share_events_needing_encoder", "share of events that need the encoder"),
    ):
        if enc.get(key) is not None:
            rows.append([label, fmt(enc[key])])
    if report.get("profile_bytes") is not None:
        rows.append(["packed profile (bytes)", fmt(report["profile_bytes"])])
    for users, s in (report.get("storage") or {}).items():
        rows.append([f"RocksDB bytes per profile, {users} users", fmt(s.get("bytes_per_profile"))])
        if s.get("worker_rss_bytes") is not None:
            rows.append([f"worker RSS, {users} users (MiB)", fmt(s["worker_rss_bytes"] / 2**20)])
    for users, w in (report.get("worker_storage") or {}).items():
        rows.append(
            [
                f"driftrec worker at {users} users: RSS / RocksDB folder as is (MiB)",
                f"{fmt(w['worker_rss_bytes'] / 2**20)} / {fmt(w['rocksdb_dir_bytes'] / 2**20)}",
            ]
        )
    for n, b in (report.get("catalog_memory_bytes") or {}).items():
        rows.append([f"catalog memory, {n} items (MiB)", fmt(b / 2**20)])
    retrieval = report.get("retrieval") or {}
    for n, r in retrieval.get("exact_ms_per_user", {}).items():
        batched = retrieval.get("exact_ms_per_user_batch64", {}).get(n)
        ivf = ((retrieval.get("ivf") or {}).get(n) or {}).get("nprobe", {}).get("4")
        value = fmt(r) + (f" ({fmt(batched)} in batches of 64)" if batched is not None else "")
        if ivf:
            value += f"; IVF nprobe 4: {fmt(ivf['ms_per_user'])}, recall {fmt(ivf['recall_at_10'])}"
        rows.append([f"top-10 retrieval per user, {n} items (ms)", value])
    return rows


def render_markdown(report: dict[str, Any]) -> str:
    """The report as markdown: machine line, pipeline table, figures, targets, skipped sections."""
    m = report.get("machine") or {}
    lines = [
        "### driftrec benchmarks" + (" (quick mode)" if report.get("mode") == "quick" else ""),
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('ram_gib', '?')} GiB "
        f"RAM, {m.get('device', '?')}; Python {m.get('python', '?')}, torch {m.get('torch', '?')}, "
        f"Kafka {m.get('kafka') or '?'}, Faust {m.get('faust', '?')}."
        + (
            f" Load average at start: {m['load_avg_at_start'][0]:.1f}."
            if m.get("load_avg_at_start")
            else ""
        ),
    ]
    if report.get("command"):
        lines += ["", f"Command: `{report['command']}`"]
    lines += ["", *_table(["pipeline (medians)", "driftrec", "bare Faust", "ratio"], _rows(report))]
    figures = _figure_rows(report)
    if figures:
        lines += ["", *_table(["figure (medians)", "value"], figures)]
    targets = report.get("targets") or check_targets(report)
    lines += [
        "",
        *_table(
            ["target", "goal", "measured", "met"],
            [[t["name"], t["goal"], fmt(t["value"]), fmt(t["met"])] for t in targets],
        ),
    ]
    prof_rows = []
    for who, p in (report.get("profile") or {}).items():
        for thread, t in (p.get("threads") or {}).items():
            if t.get("busy_share", 0) < 0.02:
                continue
            top = ", ".join(
                f"{name} {share:.0%}" for name, share in list(t.get("where", {}).items())[:5]
            )
            prof_rows.append(
                [
                    who,
                    thread.split(": ", 1)[-1],
                    f"{t['busy_share']:.0%}",
                    fmt(t.get("busy_ms_per_event")),
                    top,
                ]
            )
    if prof_rows:
        lines += [
            "",
            *_table(
                ["profile (py-spy)", "thread", "busy", "busy ms/event", "where the busy time goes"],
                prof_rows,
            ),
        ]
    notes = []
    if report.get("batching_method"):
        notes.append(f"batching ratio measured with the {report['batching_method']}")
    for who, why in (report.get("latency_skipped") or {}).items():
        notes.append(f"{who} latency: {why}")
    if report.get("latency_timing"):
        notes.append(f"latency = {report['latency_timing']}")
    if notes:
        lines += ["", "Notes:", *[f"- {n}" for n in notes]]
    for title, key in (("Skipped", "skipped"), ("Errors", "errors")):
        if report.get(key):
            lines += ["", f"{title}:"]
            for name, why in report[key].items():
                first, _, rest = str(why).partition("\n")
                lines.append(f"- {name}: {first}" + (" (details in the JSON)" if rest else ""))
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], json_path: Path, markdown_path: Path | None) -> None:
    """Write the JSON (and the markdown table when asked)."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    if markdown_path is not None:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        markdown_path.write_text(render_markdown(report))
