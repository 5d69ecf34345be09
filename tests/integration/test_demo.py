"""`driftrec demo` end to end on the real broker (untrained model, a slice of the sample)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DRIFTREC = Path(sys.executable).parent / "driftrec"


def test_demo_runs_reports_and_cleans_up(kafka_bootstrap: str) -> None:
    env = {**os.environ, "DRIFTREC_BOOTSTRAP_SERVERS": kafka_bootstrap, "DRIFTREC_DEVICE": "cpu"}
    proc = subprocess.run(
        [str(DRIFTREC), "demo", "--untrained", "--limit", "400", "--rate", "200", "--show", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Kafka: using the broker" in out and "Worker ready" in out
    assert out.count("  list  ") >= 3  # lists shown as they arrived
    summary = out.split("Summary", 1)[1]
    assert "events replayed    400" in summary
    assert "cold_start" in summary and "latency            p50" in summary
    assert "hit rate" in summary and "/metrics" in summary
    assert "What changed for a few customers" in out and "because" in out
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        leftovers = [t for t in admin.list_topics() if t.startswith(("demo-", "driftrec-demo-"))]
    finally:
        admin.close()
    assert leftovers == []
