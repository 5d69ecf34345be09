"""The benchmark harness without a broker: statistics, report shape, markdown, orchestration.

No timed asserts: speed is what the harness measures, never what a test checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bench import resultdoc as report
from bench import suite
from bench.ann import IVFIndex, clustered_vectors, exact_top_k, recall_at_k
from bench.config import QUICK, SECTIONS
from bench.errors import BenchError, SectionSkipped
from bench.events import encode_event, make_events, make_items
from bench.passthrough import output_message
from bench.pipeline import event_maker
from bench.stats import latency_summary, median_of_dicts, percentile, summarize, time_per_call
from bench.verdicts import ratio_runs, spread, verdict_text
from streams.cli import cli
from streams.messages.records import parse_event, parse_item
from streams.settings import Settings

HEADLINE_KEYS = {
    "throughput",
    "latency_ms",
    "incremental_vs_recompute",
    "batching_ratio",
    "profile_bytes",
    "machine",
}


def test_summarize_gives_median_and_spread() -> None:
    s = summarize([3.0, 1.0, 2.0, 10.0])
    assert (s.median, s.lo, s.hi, s.runs) == (2.5, 1.0, 10.0, 4)
    assert s.spread == pytest.approx(9.0 / 2.5)
    assert summarize([4.0]).spread == 0.0
    with pytest.raises(ValueError, match="at least one"):
        summarize([])
    with pytest.raises(ValueError, match="non-finite"):
        summarize([1.0, float("nan")])


@pytest.mark.parametrize("q", [0, 1, 25, 50, 95, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    values = list(np.random.default_rng(3).exponential(10.0, size=257))
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_latency_summary_and_median_of_dicts() -> None:
    lat = latency_summary([float(v) for v in range(1, 101)])
    assert lat["p50"] == pytest.approx(50.5)
    assert lat["p99"] == pytest.approx(99.01)
    assert lat["max"] == 100.0 and lat["n"] == 100.0
    merged = median_of_dicts([{"a": 1.0, "b": 5.0}, {"a": 3.0, "b": 7.0}, {"a": 2.0}])
    assert merged == {"a": 2.0}  # only keys present in every run


def test_time_per_call_counts_calls() -> None:
    calls = []
    s = time_per_call(lambda: calls.append(1), blocks=3, block_s=0.001)
    assert s.runs == 3
    assert s.median > 0
    assert len(calls) >= 4  # calibration call + at least one per block


def _fake_report() -> dict[str, Any]:
    r = report.skeleton()
    tp_runs = [
        {
            "broker_producer": 90_000.0,
            "broker_consumer": 120_000.0,
            "raw": 5000.0,
            "bare": 1000.0,
            "driftrec": 950.0,
        },
        {
            "broker_producer": 80_000.0,
            "broker_consumer": 100_000.0,
            "raw": 4000.0,
            "bare": 1000.0,
            "driftrec": 850.0,
        },
        {
            "broker_producer": 85_000.0,
            "broker_consumer": 110_000.0,
            "raw": 4500.0,
            "bare": 1000.0,
            "driftrec": 920.0,
        },
    ]
    r.update(
        mode="quick",
        command="driftrec bench --quick --json out.json",
        machine={
            "cpu": "Test CPU",
            "cores": 2,
            "ram_gib": 8.0,
            "device": "cpu",
            "python": "3.11",
            "torch": "2.x",
            "kafka": "4.4.0",
            "faust": "0.15.3",
        },
        throughput={
            "driftrec_events_per_s": 920.0,
            "bare_events_per_s": 1000.0,
            "ratio": 0.92,
            "runs": tp_runs,
            "spread": {
                k: spread([run[k] for run in tp_runs])
                for k in ("broker_producer", "broker_consumer", "raw", "bare", "driftrec")
            },
            "ratios": {
                "driftrec/bare": spread(ratio_runs(tp_runs, "driftrec", "bare")),
                "driftrec/raw": spread(ratio_runs(tp_runs, "driftrec", "raw")),
            },
        },
        latency_ms={
            "200": {
                "p50": 10.0,
                "p95": 30.0,
                "p99": 40.0,
                "p99_runs": [40.0, 45.0, 38.0],
                "offered_per_s": 200.0,
            },
            "half_saturation": {
                "p50": 20.0,
                "p99": 60.0,
                "p99_runs": [60.0, 70.0, 55.0],
                "offered_per_s": 460.0,
            },
        },
        latency_ms_bare={
            "200": {"p50": 5.0, "p95": 9.0, "p99": 12.0},
            "half_saturation": {"p50": 8.0, "p99": 40.0},
        },
        latency_half_saturation={"offered_per_s": 460.0, "p99_ratio_runs": [1.5, 2.5, 1.2]},
        incremental_vs_recompute={"10": 3.0, "50": 12.0, "200": 45.0},
        incremental_vs_recompute_batched={"200": 150.0},
        incremental_detail={
            "batch": 256,
            "200": {"b256_ratio": 150.0, "b256_ratio_min": 120.0, "b256_ratio_max": 170.0},
        },
        engine_batching={"vs_baseline_runs": [1.1, 1.2, 0.9]},
        batching_ratio=7.5,
        profile_bytes=1900,
    )
    r["skipped"]["scale_out"] = "not in this test"
    return r


def test_targets_are_judged_on_every_run() -> None:
    checks = {t["name"]: t for t in report.check_targets(_fake_report())}
    # driftrec/bare runs 0.95, 0.85, 0.92 straddle the 0.9 goal: not met, spread kept.
    vs_bare = checks["worker vs batched bare Faust pass-through"]
    assert vs_bare["met"] is False and vs_bare["straddles"] is True
    assert (vs_bare["min"], vs_bare["median"], vs_bare["max"]) == (0.85, 0.92, 0.95)
    assert verdict_text(vs_bare) == "not met (runs straddle the goal)"
    # driftrec/raw runs 0.19, 0.2125, 0.204: all below 0.5.
    vs_raw = checks["worker vs raw aiokafka pass-through"]
    assert vs_raw["met"] is False and vs_raw["straddles"] is False
    assert verdict_text(vs_raw) == "not met"
    assert checks["p99 at half driftrec's saturation vs bare Faust p99"]["straddles"] is True
    assert checks["p99 latency at 200 events/s"]["met"] is True  # 38..45 ms < 50
    assert checks["engine alone, batch 256 vs pre-issue-15 baseline"]["met"] is False
    inc = checks["incremental vs recompute, history 200, worker batch"]
    assert inc["met"] is True and inc["min"] == 120.0 and inc["max"] == 170.0
    assert checks["packed profile size (sample's ids)"]["met"] is True
    empty = report.check_targets(report.skeleton())
    assert all(t["median"] is None and t["met"] is None for t in empty)
    assert {verdict_text(t) for t in empty} == {"not measured"}


def test_markdown_table_has_yardsticks_ratios_targets_and_skips() -> None:
    md = report.render_markdown(_fake_report())
    assert "Machine: Test CPU, 2 cores, 8.0 GiB RAM, cpu" in md
    assert "Command: `driftrec bench --quick --json out.json`" in md
    assert "| driftrec worker | 920 (850 - 950, 3 runs) |  |" in md
    assert "| raw aiokafka pass-through | 4,500 (4,000 - 5,000, 3 runs) |  |" in md
    assert "| driftrec/bare | 0.92 (0.85 - 0.95, 3 runs) |" in md
    assert "| 200 (200/s) | 10 / 40 | 5 / 12 | 40, 45, 38 |" in md
    assert (
        "| incremental step vs recompute, history 200 | 45x (1 user), 150x (worker batch) |" in md
    )
    assert (
        "| worker vs batched bare Faust pass-through | >= 0.9x | 0.92 | 0.85 - 0.95 (3) "
        "| not met (runs straddle the goal) |"
    ) in md
    assert "- scale_out: not in this test" in md
    # Every table row has as many cells as its header.
    for block in md.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            assert len({row.count("|") for row in rows}) == 1, block


def test_markdown_has_the_batch_mode_comparison() -> None:
    rep = _fake_report()
    rep["batch_mode"] = {
        "configured": "adaptive",
        "phases": {"200": 200.0},
        "adaptive": {"events_per_s": spread([100, 110, 120]), "p99_ms_200": spread([20, 30, 40])},
        "fixed": {"events_per_s": spread([90, 100, 110]), "p99_ms_200": spread([80, 90, 100])},
        "adaptive_vs_fixed": {
            "events_per_s": spread([1.0, 1.1, 1.2]),
            "p99_ms_200": spread([0.25, 0.33, 0.4]),
        },
    }
    md = report.render_markdown(rep)
    assert (
        "| p99 ms at 200 events/s | 30 (20 - 40, 3 runs) | 90 (80 - 100, 3 runs) "
        "| 0.33 (0.25 - 0.4, 3 runs) |"
    ) in md
    assert "| throughput (events/s) | 110 (100 - 120, 3 runs) |" in md
    assert "batch_mode" not in QUICK.sections and "batch_mode" in SECTIONS


def test_markdown_has_the_gc_freeze_comparison() -> None:
    rep = _fake_report()
    rep["gc_freeze"] = {
        "configured": "frozen",
        "labels": ["frozen", "unfrozen"],
        "phases": {"200": 200.0},
        "frozen": {"p99_ms_200": spread([20, 30, 40])},
        "unfrozen": {"p99_ms_200": spread([80, 90, 100])},
        "frozen_vs_unfrozen": {"p99_ms_200": spread([0.25, 0.33, 0.4])},
    }
    md = report.render_markdown(rep)
    assert "| driftrec DRIFTREC_GC_FREEZE (two workers, same run) |" in md
    assert (
        "| p99 ms at 200 events/s | 30 (20 - 40, 3 runs) | 90 (80 - 100, 3 runs) "
        "| 0.33 (0.25 - 0.4, 3 runs) |"
    ) in md
    assert "gc_freeze" not in QUICK.sections and "gc_freeze" in SECTIONS


def test_unknown_figures_render_as_dashes() -> None:
    md = report.render_markdown(report.skeleton())
    assert "| driftrec worker | - |  |" in md
    assert report.fmt(None) == "-" and report.fmt(1234567) == "1,234,567"
    assert report.fmt(0.012345) == "0.0123" and report.fmt(12345.6) == "12,346"


def test_write_produces_json_with_headline_keys(tmp_path: Path) -> None:
    out, md = tmp_path / "r" / "out.json", tmp_path / "out.md"
    report.write(_fake_report(), out, md)
    data = json.loads(out.read_text())
    assert set(data) >= HEADLINE_KEYS
    assert set(data["throughput"]) >= {"driftrec_events_per_s", "bare_events_per_s", "ratio"}
    assert set(data["incremental_vs_recompute"]) == {"10", "50", "200"}
    assert md.read_text().startswith("### driftrec benchmarks (quick mode)")


def test_suite_records_results_skips_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def ok(ctx: suite.Context) -> dict[str, Any]:
        ctx.say("working")
        return {"incremental_vs_recompute": {"200": 40.0}, "profile_bytes": 1500}

    def skipped(ctx: suite.Context) -> dict[str, Any]:
        raise SectionSkipped("no worker here")

    def failed(ctx: suite.Context) -> dict[str, Any]:
        raise BenchError("broker went away")

    monkeypatch.setattr(
        suite, "_sections", lambda: {"incremental": ok, "throughput": skipped, "latency": failed}
    )
    lines: list[str] = []
    config = QUICK.only(("incremental", "throughput", "latency"))
    result = suite.run_suite(config, Settings(), command="test", echo=lines.append)
    assert set(result) >= HEADLINE_KEYS
    assert result["incremental_vs_recompute"] == {"200": 40.0}
    assert result["profile_bytes"] == 1500
    assert result["throughput"]["ratio"] is None  # skeleton kept when a section is skipped
    assert result["skipped"] == {"throughput": "no worker here"}
    assert result["errors"] == {"latency": "broker went away"}
    assert result["mode"] == "quick" and result["machine"]["cores"] >= 1
    targets = {t["name"]: t["met"] for t in result["targets"]}
    assert targets["packed profile size (sample's ids)"] is True
    assert result["capacity"] is None  # no worker rate measured
    assert any("working" in line for line in lines)
    assert set(result["section_seconds"]) == {"incremental", "throughput", "latency"}


def test_config_selects_known_sections_only() -> None:
    assert QUICK.only(("latency", "incremental")).sections == ("incremental", "latency")
    assert "worker_storage" not in QUICK.sections and "worker_storage" in SECTIONS
    with pytest.raises(ValueError, match="unknown sections"):
        QUICK.only(("warp_speed",))


def test_passthrough_output_has_the_requested_size() -> None:
    for size in (200, 1264, 4096):
        msg = output_message("e123", 1.8e9, size)
        assert len(msg) == size
        assert json.loads(msg)["event_ts"] == 1.8e9


def test_generated_events_and_items_meet_the_data_contracts() -> None:
    items = make_items(50, seed=1)
    assert [parse_item(i.to_json()) for i in items] == items
    events = list(make_events(300, users=20, items=50, seed=1, start_ts=1.8e9))
    assert events == list(make_events(300, users=20, items=50, seed=1, start_ts=1.8e9))
    for e in events:
        key, value = encode_event(e)
        assert parse_event(json.loads(value)) == e and key == e.user_id.encode()
        assert e.item_id is None or int(e.item_id[1:]) < 50
    assert any(e.text for e in events) and any(e.text is None for e in events)
    make = event_maker([encode_event(e) for e in events[:5]])
    key, value = make("b7-", 6, 1.9e9)
    body = json.loads(value)
    assert key == events[1].user_id.encode()
    assert (body["event_id"], body["ts"]) == ("b7-6", 1.9e9)


def test_ivf_with_every_list_probed_is_exact() -> None:
    items = clustered_vectors(2000, 16, clusters=20, seed=0)
    queries = clustered_vectors(8, 16, clusters=4, seed=1)
    exact = exact_top_k(items, queries, 10)
    ivf = IVFIndex(items, nlist=20, seed=0)
    assert recall_at_k(ivf.search(queries, 10, nprobe=20), exact) == 1.0
    assert 0.0 < recall_at_k(ivf.search(queries, 10, nprobe=1), exact) <= 1.0
    best = items @ queries[0]
    assert exact[0, 0] == int(np.argmax(best))


def test_cli_help_and_bad_section() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["bench", "--help"])
    assert result.exit_code == 0
    assert "--quick" in result.output and "DRIFTREC_BOOTSTRAP_SERVERS" in result.output
    bad = runner.invoke(cli, ["bench", "--json-out", "x.json", "--section", "nope"])
    assert bad.exit_code == 2
    assert "unknown sections" in bad.output


def test_profile_summary_separates_busy_idle_and_spin(tmp_path: Path) -> None:
    from bench.profiling import summarize as summarize_profile

    raw = tmp_path / "raw.txt"
    main = "thread (1): MainThread;main (w.py:1);BaseEventLoop.run_forever (base_events.py:600)"
    raw.write_text(
        "\n".join(
            [
                f"{main};EpollSelector.select (selectors.py:468) 50",
                f"{main};Handle._run (events.py:80);send (aiokafka/producer/p.py:500) 30",
                f"{main};Handle._run (events.py:80);BaseEventLoop.call_soon (b.py:765);"
                "BaseEventLoop._call_soon (b.py:781) 10",
                "thread (2): model;Thread.run (threading.py:9);_worker (thread.py:80) 90",
                "thread (2): model;Thread.run (threading.py:9);_worker (thread.py:80);"
                "_WorkItem.run (thread.py:58);ServingModel.step (serving.py:9) 10",
            ]
        )
        + "\n"
    )
    out = summarize_profile(raw)
    m = out["thread (1): MainThread"]
    assert m["samples"] == 90 and m["busy_share"] == pytest.approx(40 / 90)
    assert m["sleep0_spin_share_of_busy"] == pytest.approx(10 / 40)
    assert m["top_inclusive"]["send [p.py]"] == pytest.approx(30 / 40)
    model = out["thread (2): model"]
    assert model["busy_share"] == pytest.approx(0.1)
    assert model["top_inclusive"] == {"ServingModel.step [serving.py]": 1.0}  # work item only
    assert "main [w.py]" not in m["top_inclusive"]  # above the event loop's dispatch
    assert m["where"]["Kafka produce"] == pytest.approx(30 / 40)
    assert model["where"] == {"interest step (fusion + LSTM)": 1.0}
