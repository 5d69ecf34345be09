"""The benchmark report: its JSON skeleton, the performance targets, and the markdown table.

The JSON always carries every headline key (``throughput``, ``latency_ms``,
``incremental_vs_recompute``, ``batching_ratio``, ``profile_bytes``, ``machine``); a figure whose
section could not run is ``null`` and the reason is under ``skipped``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.verdicts import Goal, judge, verdict_text


def skeleton() -> dict[str, Any]:
    """The report with every headline key present and every figure unknown."""
    return {
        "schema": 2,
        "machine": None,
        "throughput": {"driftrec_events_per_s": None, "bare_events_per_s": None, "ratio": None},
        "latency_ms": {},
        "incremental_vs_recompute": {},
        "batching_ratio": None,
        "profile_bytes": None,
        "skipped": {},
        "errors": {},
    }


def _at(report: dict[str, Any], *keys: str) -> Any:
    node: Any = report
    for k in keys:
        if not isinstance(node, dict) or node.get(k) is None:
            return None
        node = node[k]
    return node


def _values(report: dict[str, Any], *keys: str) -> list[float] | None:
    """A spread's per-run values (``{..., "values": [...]}``) or a list found at ``keys``."""
    node = _at(report, *keys)
    if isinstance(node, dict):
        node = node.get("values")
    if isinstance(node, list) and node:
        return [float(v) for v in node]
    return None


def _incremental_runs(report: dict[str, Any]) -> list[float] | None:
    detail = _at(report, "incremental_detail", "200")
    batch = _at(report, "incremental_detail", "batch")
    if not isinstance(detail, dict) or batch is None:
        median = _at(report, "incremental_vs_recompute_batched", "200")
        return None if median is None else [float(median)]
    tag = f"b{batch}"
    keys = (f"{tag}_ratio_min", f"{tag}_ratio", f"{tag}_ratio_max")
    return [float(detail[k]) for k in keys if detail.get(k) is not None] or None


#: Issue 15's targets: (name, goal, where the runs are, how they were measured).
TARGETS: tuple[tuple[str, Goal, Callable[[dict[str, Any]], list[float] | None], str], ...] = (
    (
        "worker vs batched bare Faust pass-through",
        Goal(">=", 0.9, "x"),
        lambda r: _values(r, "throughput", "ratios", "driftrec/bare"),
        "events/s ratio per round",
    ),
    (
        "worker vs raw aiokafka pass-through",
        Goal(">=", 0.5, "x"),
        lambda r: _values(r, "throughput", "ratios", "driftrec/raw"),
        "events/s ratio per round",
    ),
    (
        "p99 at half driftrec's saturation vs bare Faust p99",
        Goal("<=", 2.0, "x"),
        lambda r: _values(r, "latency_half_saturation", "p99_ratio_runs"),
        "p99 ratio per round, same offered rate",
    ),
    (
        "p99 latency at 200 events/s",
        Goal("<", 50.0, " ms"),
        lambda r: _values(r, "latency_ms", "200", "p99_runs"),
        "p99 per round",
    ),
    (
        "engine alone, batch 256 vs pre-issue-15 baseline",
        Goal(">=", 5.0, "x"),
        lambda r: _values(r, "engine_batching", "vs_baseline_runs"),
        "events/s per run / baseline",
    ),
    (
        "incremental vs recompute, history 200, worker batch",
        Goal(">=", 100.0, "x"),
        _incremental_runs,
        "min / median / max over timed blocks",
    ),
    (
        "packed profile size (sample's ids)",
        Goal("<=", 2048.0, " B"),
        lambda r: None if r.get("profile_bytes") is None else [float(r["profile_bytes"])],
        "bytes",
    ),
)


def check_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target judged on all its runs (see :mod:`bench.verdicts`); ``met`` None when the
    figure was not measured."""
    return [judge(name, goal, get(report), how) for name, goal, get, how in TARGETS]


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


YARDSTICKS = (
    ("broker_producer", "Kafka ProducerPerformance (broker limit, write)"),
    ("broker_consumer", "Kafka ConsumerPerformance (broker limit, read)"),
    ("raw", "raw aiokafka pass-through"),
    ("bare", "bare Faust pass-through (take_events, gathered sends)"),
    ("driftrec", "driftrec worker"),
)


def _span(sp: dict[str, Any] | None) -> str:
    """``median (min - max, n runs)`` of a spread, ``-`` when unknown."""
    if not sp or sp.get("median") is None:
        return "-"
    return f"{fmt(sp['median'])} ({fmt(sp['min'])} - {fmt(sp['max'])}, {sp['runs']} runs)"


def _yardstick_rows(report: dict[str, Any]) -> list[list[str]]:
    tp = report.get("throughput") or {}
    spreads = tp.get("spread") or {}
    mb = tp.get("broker_mb_per_s") or {}
    rows = []
    for key, label in YARDSTICKS:
        extra = ""
        if key.startswith("broker_") and mb.get(key.removeprefix("broker_")):
            extra = f"{fmt(mb[key.removeprefix('broker_')]['median'])} MB/s"
        rows.append([label, _span(spreads.get(key)), extra])
    return rows


def _ratio_rows(report: dict[str, Any]) -> list[list[str]]:
    ratios = (report.get("throughput") or {}).get("ratios") or {}
    return [[name, _span(sp)] for name, sp in ratios.items()]


def _latency_rows(report: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    mine = report.get("latency_ms") or {}
    bare = report.get("latency_ms_bare") or {}
    for rate in dict.fromkeys([*mine, *bare]):
        d, b = mine.get(rate) or {}, bare.get(rate) or {}
        offered = d.get("offered_per_s") or b.get("offered_per_s")
        label = f"{rate} ({fmt(offered)}/s)" if offered is not None else rate
        runs = d.get("p99_runs")
        rows.append(
            [
                label,
                f"{fmt(d.get('p50'))} / {fmt(d.get('p99'))}" if d else "-",
                f"{fmt(b.get('p50'))} / {fmt(b.get('p99'))}" if b else "-",
                ", ".join(fmt(v) for v in runs) if runs else "",
            ]
        )
    return rows


def _ab_rows(report: dict[str, Any], name: str) -> list[list[str]]:
    """Rows of a two-value comparison section (``bench.settingab``)."""
    ab = report.get(name) or {}
    a, b = ab.get("labels") or ["adaptive", "fixed"]  # batch_mode results before "labels"
    if not ab.get(a):
        return []
    labels = {"events_per_s": "throughput (events/s)"}
    for label, rate in (ab.get("phases") or {}).items():
        for q in ("p50", "p99"):
            labels[f"{q}_ms_{label}"] = f"{q} ms at {fmt(rate)} events/s"
    return [
        [
            text,
            _span(ab[a].get(key)),
            _span(ab[b].get(key)),
            _span((ab.get(f"{a}_vs_{b}") or {}).get(key)),
        ]
        for key, text in labels.items()
        if key in ab[a]
    ]


def _scale_rows(report: dict[str, Any]) -> list[list[str]]:
    so = report.get("scale_out") or {}
    rows = []
    for workers in sorted((k for k in so if k.isdigit()), key=int):
        s = so[workers]
        rows.append(
            [
                workers,
                _span(s.get("events_per_s")),
                _span(s.get("ratio_vs_one")) if s.get("ratio_vs_one") else "1",
                fmt(s.get("duplicates")),
            ]
        )
    return rows


def _capacity_rows(report: dict[str, Any]) -> list[list[str]]:
    c = report.get("capacity") or {}
    if not c:
        return []
    gib = 2**30
    rows = [
        [
            "events/s per worker (median / slowest run)",
            f"{fmt(c['events_per_s_per_worker'])} / "
            f"{fmt(c['events_per_s_per_worker_slowest_run'])}",
        ],
        ["RocksDB bytes per user", fmt(c.get("rocksdb_bytes_per_user"))],
        [
            f"workers = partitions needed for {fmt(c['plan_events_per_s'])} events/s",
            f"{fmt(c['workers_needed_median'])} (median) / {fmt(c['workers_needed_slowest_run'])} "
            "(slowest run)",
        ],
        [
            f"users per worker at {fmt(c['plan_users'])} users",
            f"{fmt(c['users_per_worker_median'])} / {fmt(c['users_per_worker_slowest_run'])}",
        ],
    ]
    if c.get("rocksdb_bytes_total") is not None:
        rows.append(
            [
                "RocksDB per worker / in all (GiB)",
                f"{fmt(c['rocksdb_bytes_per_worker_median'] / gib)} / "
                f"{fmt(c['rocksdb_bytes_total'] / gib)}",
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
            f" Load average at start: {m['load_avg_at_start'][0]:.1f}"
            + (f", at end: {m['load_avg_at_end'][0]:.1f}" if m.get("load_avg_at_end") else "")
            + "."
            if m.get("load_avg_at_start")
            else ""
        ),
    ]
    if report.get("command"):
        lines += ["", f"Command: `{report['command']}`"]
    lines += [
        "",
        *_table(
            ["throughput, 1 worker", "events/s median (min - max)", "MB/s"],
            _yardstick_rows(report),
        ),
    ]
    ratio_rows = _ratio_rows(report)
    if ratio_rows:
        lines += ["", *_table(["ratio of events/s, per round", "median (min - max)"], ratio_rows)]
    latency_rows = _latency_rows(report)
    if latency_rows:
        lines += [
            "",
            *_table(
                [
                    "latency at offered rate",
                    "driftrec p50 / p99 ms",
                    "bare p50 / p99 ms",
                    "driftrec p99 per round",
                ],
                latency_rows,
            ),
        ]
    for name, heads in (
        (
            "batch_mode",
            [
                "driftrec batch mode (two workers, same run)",
                "adaptive median (min - max)",
                "fixed (take_events) median (min - max)",
                "adaptive/fixed per round",
            ],
        ),
        (
            "gc_freeze",
            [
                "driftrec DRIFTREC_GC_FREEZE (two workers, same run)",
                "frozen median (min - max)",
                "unfrozen median (min - max)",
                "frozen/unfrozen per round",
            ],
        ),
    ):
        ab_rows = _ab_rows(report, name)
        if ab_rows:
            lines += ["", *_table(heads, ab_rows)]
    scale_rows = _scale_rows(report)
    if scale_rows:
        parts = (report.get("scale_out") or {}).get("partitions")
        lines += [
            "",
            *_table(
                [
                    f"driftrec workers, {parts} partitions",
                    "events/s median (min - max)",
                    "vs 1 worker",
                    "duplicates",
                ],
                scale_rows,
            ),
        ]
    capacity_rows = _capacity_rows(report)
    if capacity_rows:
        lines += ["", *_table(["capacity (from the figures above)", "value"], capacity_rows)]
    figures = _figure_rows(report)
    if figures:
        lines += ["", *_table(["figure (medians)", "value"], figures)]
    targets = report.get("targets") or check_targets(report)
    lines += [
        "",
        *_table(
            ["target", "goal", "median", "min - max (runs)", "verdict"],
            [
                [
                    t["name"],
                    t["goal"],
                    fmt(t.get("median")),
                    f"{fmt(t.get('min'))} - {fmt(t.get('max'))} ({t['runs']})"
                    if t.get("runs")
                    else "-",
                    verdict_text(t),
                ]
                for t in targets
            ],
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
