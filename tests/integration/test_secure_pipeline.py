"""The whole pipeline over TLS on a broker started with certificates made by the test: the worker
and `driftrec tail` over SASL_SSL (SCRAM-SHA-256), `driftrec items load`, `produce` and `forget`
over the SSL listener. No client is given the broker's plaintext port."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.localkafka.tls import SCRAM_MECHANISM, SecureListeners
from tests.integration.pipeline_support import (
    DRIFTREC,
    ROOT,
    Pipeline,
    own_broker,
    secure_listeners,
    wait_for,
)
from tests.integration.reliability_support import make_events, make_items

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USER, PASSWORD = "driftrec-worker", "s3cret-scram"
USERS, PER_USER = 6, 5


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureListeners]:
    root = tmp_path_factory.mktemp("tls-pipeline")
    secure = secure_listeners(root / "certs", {USER: PASSWORD})
    with own_broker(root / "broker", secure):
        yield secure


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        [str(DRIFTREC), *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"driftrec {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_the_pipeline_runs_over_tls_and_sasl_scram(
    tls_broker: SecureListeners, tiny_encoder: Path, tmp_path: Path
) -> None:
    ca = str(tls_broker.certs.ca_cert)
    sasl = {
        "DRIFTREC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "DRIFTREC_KAFKA_SASL_MECHANISM": SCRAM_MECHANISM,
        "DRIFTREC_KAFKA_SASL_USERNAME": USER,
        "DRIFTREC_KAFKA_SASL_PASSWORD": PASSWORD,
        "DRIFTREC_KAFKA_SSL_CAFILE": ca,
    }
    pipe = Pipeline(f"127.0.0.1:{tls_broker.sasl_port}", tmp_path, tiny_encoder, extra_env=sasl)
    ssl_env = {
        **{k: v for k, v in pipe.env.items() if not k.startswith("DRIFTREC_KAFKA_SASL")},
        "DRIFTREC_BOOTSTRAP_SERVERS": f"127.0.0.1:{tls_broker.ssl_port}",
        "DRIFTREC_KAFKA_SECURITY_PROTOCOL": "SSL",
    }
    data = tmp_path / "data"
    data.mkdir()
    items = make_items(12)
    events = make_events(USERS, PER_USER, items, seed=13)
    users = sorted({e.user_id for e in events})
    (data / "items.jsonl").write_text("".join(json.dumps(i.to_json()) + "\n" for i in items))
    (data / "events.jsonl").write_text("".join(json.dumps(e.to_json()) + "\n" for e in events))

    assert "12 items sent" in _cli(ssl_env, "items", "load", str(data))
    worker = pipe.worker()
    worker.start()
    try:
        worker.wait_catalog(len(items))
        assert f"{len(events)} events sent" in _cli(ssl_env, "produce", str(data))
        wait_for(
            lambda: worker.all_applied(users, PER_USER), 180, "events applied over SASL_SSL", worker
        )
        out = _cli(pipe.env, "tail", "--json", "--from-beginning", "--idle-timeout", "5")
        lists = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert {rec["user_id"] for rec in lists} == set(users)
        assert all(rec["event_id"] in {e.event_id for e in events} for rec in lists)
        assert "u0' forgotten" in _cli(ssl_env, "forget", "u0", "--wait", "60")
        assert worker.profile("u0") is None
        log = worker.log()
    finally:
        worker.stop()
    # The worker's own clients authenticated with SCRAM over TLS.
    assert f"Authenticated as {USER} via {SCRAM_MECHANISM}" in log
    print(
        f"\nsecurity: items/produce/forget over SSL, worker + tail over SASL_SSL, "
        f"{len(lists)} lists"
    )
