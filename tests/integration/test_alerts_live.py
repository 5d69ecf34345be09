"""The alert rules proven live: a real Prometheus server (Debian's package) scrapes a real worker
every second and evaluates ops/prometheus/alerts.yml, rewritten only in its time spans (``for:``
and range windows shortened so that the test takes about a minute, expressions otherwise as
shipped). The faults are induced for real: lists stop while events flow, a burst of malformed
messages, a stopped worker; each alert is seen firing through Prometheus's HTTP API.

The same run checks that every metric family the worker exports is on the Grafana dashboard.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.localkafka.launcher import free_port
from streams.messages.records import BehaviourEvent
from tests.integration.pipeline_support import Pipeline, Worker, event_bytes, producer, wait_for
from tests.integration.reliability_support import make_items

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "driftrec.json"
FOR = "3s"  # every rule's `for:` in the test
WINDOW = "15s"  # every range window ([5m], [10m]) in the test: 15 scrapes at 1 s
USERS = [f"u{i}" for i in range(4)]


def shortened_rules(text: str) -> dict[str, Any]:
    """alerts.yml with its time spans shortened; every other part of each rule kept."""
    rules = yaml.safe_load(text)
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule["expr"] = re.sub(r"\[\d+[smh]\]", f"[{WINDOW}]", rule["expr"])
            if "for" in rule:
                rule["for"] = FOR
    return dict(rules)


def test_rule_rewrite_changes_only_time_spans() -> None:
    original = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    short = shortened_rules(ALERTS.read_text())["groups"][0]["rules"]
    assert [r["alert"] for r in short] == [r["alert"] for r in original]
    for old, new in zip(original, short, strict=True):
        assert new["labels"] == old["labels"] and new["annotations"] == old["annotations"]
        assert re.sub(r"\[\w+\]", "[]", new["expr"]) == re.sub(r"\[\w+\]", "[]", old["expr"])
        assert new["for"] == FOR


def _prometheus() -> str:
    path = shutil.which("prometheus")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(
                "prometheus missing in CI: ops/test.sh installs Debian's prometheus package"
            )
        pytest.skip("prometheus not installed (Debian: apt-get install prometheus)")
    return path


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@contextmanager
def prometheus_server(folder: Path, target: str) -> Iterator[str]:
    """A Prometheus on loopback scraping ``target`` every second with the shortened rules."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alerts.yml").write_text(yaml.safe_dump(shortened_rules(ALERTS.read_text())))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {"job_name": "driftrec", "static_configs": [{"targets": [target]}]},
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (folder / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                _prometheus(),
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError((folder / "prometheus.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False

        wait_for(ready, 60, "prometheus ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def alerts(url: str) -> dict[str, dict[str, Any]]:
    """Active alerts by name (pending or firing) from /api/v1/alerts."""
    body = _get_json(f"{url}/api/v1/alerts")
    assert body["status"] == "success"
    return {a["labels"]["alertname"]: a for a in body["data"]["alerts"]}


def firing(url: str, name: str) -> bool:
    alert = alerts(url).get(name)
    return alert is not None and alert["state"] == "firing"


class SteadyEvents:
    """Good events for USERS at about 10/s from a thread, until stopped."""

    def __init__(self, pipe: Pipeline, items: list[str]) -> None:
        self.pipe, self.items = pipe, items
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        prod = producer(self.pipe.kafka())
        try:
            while not self.stop.is_set():
                n = self.sent
                event = BehaviourEvent(
                    event_id=f"steady-{n}",
                    user_id=USERS[n % len(USERS)],
                    ts=1.7e9 + n,
                    action="view",
                    item_id=self.items[n % len(self.items)],
                )
                key, value = event_bytes(event)
                prod.send(self.pipe.settings.events_topic, key=key, value=value)
                prod.flush()
                self.sent += 1
                self.stop.wait(0.1)
        finally:
            prod.close()

    def __enter__(self) -> SteadyEvents:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def _family(series: str) -> str:
    return re.sub(r"_(total|bucket|count|sum|created|info)$", "", series)


def test_alerts_fire_on_real_faults(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    # Lists stop after each user's first (cold-start) list: drift can never pass a threshold of
    # 2 (drift = 1 - cosine <= 2) and refreshes are a million events or ~30 years away.
    pipe = Pipeline(
        kafka_bootstrap,
        tmp_path,
        tiny_encoder,
        partitions=2,
        extra_env={
            "DRIFTREC_DRIFT_FLOOR": "2",
            "DRIFTREC_DRIFT_CEILING": "2",
            "DRIFTREC_REFRESH_EVENTS": "1000000",
            "DRIFTREC_REFRESH_SECONDS": "1e9",
            "DRIFTREC_LAG_INTERVAL_S": "1",
        },
    )
    items = make_items(10)
    pipe.create(items)
    worker: Worker = pipe.worker()
    worker.start()
    try:
        worker.wait_catalog(len(items))
        with (
            prometheus_server(tmp_path / "prometheus", f"127.0.0.1:{worker.port}") as prom,
            SteadyEvents(pipe, [i.item_id for i in items]) as flow,
        ):
            wait_for(
                lambda: worker.metric("driftrec_lists_published_total") >= len(USERS),
                120,
                "a cold-start list per user",
                worker,
            )
            # Healthy so far: the worker is up and nothing is dead-lettered.
            wait_for(
                lambda: _get_json(f"{prom}/api/v1/query?query=up")["data"]["result"] != [],
                30,
                "first scrape",
            )
            now = alerts(prom)
            assert "DriftrecWorkerDown" not in now and "DriftrecDeadLetterRateHigh" not in now

            # Every metric family the worker exports, as Prometheus scraped it, is on the dashboard.
            names = _get_json(f"{prom}/api/v1/label/__name__/values")["data"]
            families = {_family(n) for n in names if n.startswith("driftrec_")}
            assert {"driftrec_events_held_back", "driftrec_users_forgotten"} <= families
            dashboard = DASHBOARD.read_text()
            shown = set(re.findall(r"driftrec_[a-z0-9_]+", dashboard))
            missing = {f for f in families if not any(s.startswith(f) for s in shown)}
            assert missing == set(), f"exported but on no dashboard panel: {sorted(missing)}"

            # Fault 1: lists stopped while events are applied.
            wait_for(lambda: firing(prom, "DriftrecNoListsPublished"), 90, "NoListsPublished")
            assert flow.sent > 0

            # Fault 2: a burst of malformed messages (about 30 x the good rate for a few seconds).
            prod = producer(pipe.kafka())
            for n in range(300):
                prod.send(pipe.settings.events_topic, key=b"u0", value=b"{not json %d" % n)
            prod.flush()
            prod.close()
            wait_for(lambda: firing(prom, "DriftrecDeadLetterRateHigh"), 60, "DeadLetterRateHigh")
            dlq = alerts(prom)["DriftrecDeadLetterRateHigh"]
            assert dlq["labels"]["instance"] == f"127.0.0.1:{worker.port}"
            assert dlq["annotations"]["runbook_url"] == "docs/runbook.md#driftrecdeadletterratehigh"

            # Fault 3: the worker stops.
            assert not firing(prom, "DriftrecWorkerDown")
            started = time.monotonic()
            worker.kill()
            wait_for(lambda: firing(prom, "DriftrecWorkerDown"), 60, "WorkerDown")
            down = alerts(prom)["DriftrecWorkerDown"]
            assert down["labels"]["severity"] == "page"
            assert time.monotonic() - started >= 3  # `for: 3s` was respected
    finally:
        worker.stop()
