"""The client examples run against a real worker on the session's broker: the Python one
(streams.client) and the Java one (official kafka-clients, built with Maven) each produce events
and read the lists the worker published for their users."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams.client import ListFollower, follow_lists
from tests.integration.pipeline_support import DRIFTREC, Pipeline, Worker
from tests.integration.reliability_support import make_items

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
JAVA = ROOT / "examples" / "java"


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    proc = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{cmd[0]} exited {proc.returncode}:\n{out[-4000:]}"
    return proc.stdout


def _build_java(env: dict[str, str]) -> str:
    """Compile the example (offline when Maven's cache has it); its runtime classpath."""
    if shutil.which("mvn") is None or shutil.which("java") is None:
        if os.environ.get("CI"):
            pytest.fail("mvn/java missing in CI (ops/setup.sh requires them)")
        pytest.skip("mvn or java not installed")
    base = ["mvn", "-q", "-B", "package", "-DskipTests"]
    proc = subprocess.run([*base, "-o"], cwd=JAVA, env=env, capture_output=True, check=False)
    if proc.returncode != 0:  # first build on this machine: resolve from Maven Central
        _run(base, env, JAVA, 300)
    deps = (JAVA / "target" / "classpath.txt").read_text().strip()
    return f"{JAVA / 'target' / 'classes'}{os.pathsep}{deps}"


def _lists(stdout: str) -> dict[str, list[str]]:
    """user -> top items of the `list USER TRIGGER ITEMS...` lines an example printed."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("list "):
            _, user, _trigger, *items = line.split()
            out[user] = items
    return out


def test_python_and_java_clients_feed_the_worker_and_read_its_lists(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder, partitions=2)
    items = make_items(10)
    item_ids = [i.item_id for i in items]
    pipe.create(items)
    env = {**os.environ, **pipe.env}
    classpath = _build_java(env)
    worker: Worker = pipe.worker()
    worker.start()
    try:
        worker.wait_catalog(len(items))
        py = _run(
            [
                sys.executable,
                "examples/python_client.py",
                "--users",
                "3",
                "--items",
                ",".join(item_ids),
            ],
            env,
            ROOT,
            180,
        )
        java = _run(
            [
                "java",
                "-Dusers=3",
                "-cp",
                classpath,
                "io.driftrec.example.DriftrecExample",
                *item_ids,
            ],
            env,
            ROOT,
            180,
        )
        # A forgotten user: the worker's tombstone reaches the Python follower, which drops it.
        gone = sorted(_lists(py))[0]
        _run([str(DRIFTREC), "forget", gone, "--wait", "60"], env, ROOT, 120)
        follower = ListFollower()
        updates = list(follow_lists(pipe.settings, idle_timeout_s=5, follower=follower))
    finally:
        worker.stop()
    mine = [u for u in updates if u.user_id == gone]
    assert mine and mine[-1].forgotten and not mine[0].forgotten, mine
    assert gone not in follower.latest
    assert set(_lists(py)) - {gone} <= set(follower.latest)
    for name, stdout, prefix in (("python", py, "py-"), ("java", java, "java-")):
        lists = _lists(stdout)
        assert "users with a list: 3/3" in stdout, f"{name}:\n{stdout}"
        assert len(lists) == 3 and all(u.startswith(prefix) for u in lists), stdout
        for user, top in lists.items():
            assert top and set(top) <= set(item_ids), (name, user, top)
    assert "produced 9 events for 3 users" in java
