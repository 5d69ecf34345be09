"""The monitoring files in ops/ are valid for the real tools and mention only real metrics."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from streams.worker.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "ops" / "prometheus"
DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "driftrec.json"
METRIC_RE = re.compile(r"\bdriftrec_[a-z0-9_]+")


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool missing in CI: ops/test.sh installs Debian's prometheus package")
        pytest.skip("promtool not installed (Debian: apt-get install prometheus)")
    return path


def _run(*args: str) -> str:
    proc = subprocess.run(args, cwd=PROM, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def worker_registry() -> CollectorRegistry:
    """The worker's metrics, all declared by Metrics (its event agent's parts included)."""
    return Metrics(CollectorRegistry()).registry


def exported_series_names() -> set[str]:
    """Every series name the worker's metrics can produce (suffixes included)."""
    names: set[str] = set()
    for family in worker_registry().collect():
        base = family.name
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_count", "_sum"),
            "gauge": ("",),
            "info": ("_info",),
        }[family.type]
        names.update(base + s for s in suffixes)
    return names


def test_promtool_accepts_config_and_rules() -> None:
    promtool = _promtool()
    out = _run(promtool, "check", "config", "prometheus.yml")
    assert "SUCCESS: 5 rules found" in out


def test_alert_rule_unit_tests_pass() -> None:
    promtool = _promtool()
    assert "SUCCESS" in _run(promtool, "test", "rules", "alerts_test.yml")


def test_every_documented_alert_exists() -> None:
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "DriftrecWorkerDown",
        "DriftrecDeadLetterRateHigh",
        "DriftrecConsumerLagHigh",
        "DriftrecLatencyP99High",
        "DriftrecNoListsPublished",
    }


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_and_alerts_reference_only_exported_metrics() -> None:
    exported = exported_series_names()
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"][0]["rules"]
    used = {
        m for e in _dashboard_exprs() + [r["expr"] for r in rules] for m in METRIC_RE.findall(e)
    }
    assert used, "no driftrec metric referenced at all"
    assert used - exported == set()


def test_dashboard_shows_every_exported_metric() -> None:
    used = {m for e in _dashboard_exprs() for m in METRIC_RE.findall(e)}
    families = {f.name for f in worker_registry().collect()}
    assert {"driftrec_events_held_back", "driftrec_users_forgotten"} <= families
    missing = {f for f in families if not any(u.startswith(f) for u in used)}
    assert missing == set()


def test_metric_check_catches_a_typo() -> None:
    assert "driftrec_events_consumd_total" not in exported_series_names()
    assert "driftrec_events_consumed_total" in exported_series_names()


def test_compose_mounts_existing_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"kafka", "worker", "prometheus", "grafana"} <= set(compose["services"])
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading (lower case, spaces to '-', punctuation out)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_alert_links_its_runbook_section() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    anchors = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, flags=re.M)}
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"][0]["rules"]
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/runbook.md", url
        assert anchor == rule["alert"].lower() and anchor in anchors, url
    assert "no-such-section" not in anchors


def test_dashboard_selects_datasource_job_and_instance_by_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "label_values(up, job)" in variables["job"]["definition"]
    assert "$job" in variables["instance"]["definition"]
    for panel in dashboard["panels"]:
        for holder in [panel, *panel.get("targets", [])]:
            if holder.get("datasource") is not None:
                assert holder["datasource"]["uid"] == "${datasource}", panel["title"]
    selector = re.compile(r"\b(up|driftrec_[a-z0-9_]+)(\{[^}]*\})?")
    for expr in _dashboard_exprs():
        for name, labels in selector.findall(expr):
            assert 'job=~"$job"' in labels and 'instance=~"$instance"' in labels, (name, expr)
