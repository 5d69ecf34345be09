"""`driftrec demo` end to end on the session's real broker (a short replay of the sample)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from encoders.data.folder import read_folder
from encoders.samples import sample_path
from ops.localkafka.launcher import free_port
from streams.settings import Settings

LIMIT = 600


@pytest.mark.integration
@pytest.mark.slow
def test_demo_replays_the_sample_and_summarises(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DRIFTREC_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DRIFTREC_HOME": str(tmp_path),
        "DRIFTREC_WEB_PORT": str(free_port()),
    }
    # share the machine's text-vector cache so the catalog is not re-encoded for every run
    (tmp_path / "cache").symlink_to(Settings().cache_dir, target_is_directory=True)
    Settings().cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "streams.cli", "demo", "--limit", str(LIMIT), "--rate", "0"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]

    users = Counter(e.user_id for e in read_folder(sample_path()).events[:LIMIT])
    assert f"events           {LIMIT} in" in out
    # every user of the replay got a first list, and the summary says so
    triggers = re.search(r"lists published  (\d+) .*: (.*)", out)
    assert triggers is not None, out[-3000:]
    assert f"cold_start {len(users)}" in triggers.group(2)
    assert re.search(r"hit rate\s+\d+\.\d% of \d+ lists", out)
    assert "What changed for the watched users" in out
    # the demo stopped its worker and left the session's broker alone
    assert "local Kafka broker stopped" not in out
