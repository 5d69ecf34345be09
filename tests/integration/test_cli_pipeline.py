"""`driftrec items load`, `produce` and `tail` against the real broker (no worker needed)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from encoders.data.folder import write_folder
from streams.cli.main import cli
from streams.messages.records import BehaviourEvent, ItemRecord
from tests.integration.pipeline_support import read_all, send

pytestmark = pytest.mark.integration


@pytest.fixture
def env(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    u = uuid.uuid4().hex[:8]
    values = {
        "DRIFTREC_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DRIFTREC_HOME": str(tmp_path / "home"),
        "DRIFTREC_EVENTS_TOPIC": f"cli-{u}-events",
        "DRIFTREC_ITEMS_TOPIC": f"cli-{u}-items",
        "DRIFTREC_RECOMMENDATIONS_TOPIC": f"cli-{u}-recs",
        "DRIFTREC_PARTITIONS": "3",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_items_load_and_produce_in_timestamp_order(env: dict[str, str], tmp_path: Path) -> None:
    items = [ItemRecord(f"i{k}", f"Item {k}") for k in range(5)]
    # Written out of order: produce must replay by timestamp.
    events = [
        BehaviourEvent(f"e{k}", f"u{k % 2}", 1.7e9 + (7 - k), "click", f"i{k % 5}")
        for k in range(8)
    ]
    write_folder(tmp_path / "data", items, events)
    runner = CliRunner()
    out = runner.invoke(cli, ["items", "load", str(tmp_path / "data")])
    assert out.exit_code == 0, out.output
    assert "5 items sent" in out.output
    out = runner.invoke(cli, ["produce", str(tmp_path / "data" / "events.jsonl"), "--rate", "200"])
    assert out.exit_code == 0, out.output
    assert "8 events sent" in out.output

    kafka = {"bootstrap_servers": env["DRIFTREC_BOOTSTRAP_SERVERS"]}
    got_items = read_all(kafka, env["DRIFTREC_ITEMS_TOPIC"], min_count=5)
    assert sorted(m.key for m in got_items) == [f"i{k}".encode() for k in range(5)]
    got = read_all(kafka, env["DRIFTREC_EVENTS_TOPIC"], min_count=8)
    for user in ("u0", "u1"):
        mine = [json.loads(m.value) for m in got if m.key == user.encode()]
        assert len({m.partition for m in got if m.key == user.encode()}) == 1
        # Per key, the topic order is the time order.
        assert [e["ts"] for e in mine] == sorted(e["ts"] for e in mine)


def test_tail_json_prints_values_exactly_and_filters_by_user(env: dict[str, str]) -> None:
    from streams.settings import Settings
    from streams.topics import ensure_topics

    ensure_topics(Settings())
    values = [
        json.dumps(
            {
                "user_id": u,
                "items": [],
                "trigger": "drift",
                "drift": 0.3,
                "event_id": f"e{k}",
                "published_ts": 1.7e9,
            }
        ).encode()
        for k, u in enumerate(["a", "b", "a"])
    ]
    topic = env["DRIFTREC_RECOMMENDATIONS_TOPIC"]
    kafka = {"bootstrap_servers": env["DRIFTREC_BOOTSTRAP_SERVERS"]}
    send(kafka, topic, [(json.loads(v)["user_id"].encode(), v) for v in values])
    send(kafka, topic, [(b"a", None)])  # a forgotten user's tombstone
    runner = CliRunner()
    out = runner.invoke(
        cli, ["tail", "--json", "--from-beginning", "--idle-timeout", "3", "--user", "a"]
    )
    assert out.exit_code == 0, out.output
    assert sorted(out.output.splitlines()) == sorted(v.decode() for v in values if b'"a"' in v)
    out = runner.invoke(cli, ["tail", "--from-beginning", "--idle-timeout", "3"])
    assert out.exit_code == 0 and out.output.count("drift=0.300") == 3 and "forgotten" in out.output
