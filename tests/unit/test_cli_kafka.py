"""The ``driftrec kafka`` subcommands through click's runner (no broker running on the port)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ops.localkafka.launcher import free_port
from streams.cli import cli


def test_status_reports_no_broker_and_exits_1(tmp_home: Path) -> None:
    port = free_port()
    result = CliRunner().invoke(cli, ["kafka", "status", "--port", str(port)])
    assert result.exit_code == 1
    assert f"no local Kafka broker is running on 127.0.0.1:{port}" in result.output


def test_stop_without_broker_is_harmless(tmp_home: Path) -> None:
    result = CliRunner().invoke(cli, ["kafka", "stop", "--port", str(free_port())])
    assert result.exit_code == 0
    assert "no local Kafka broker is running" in result.output


def test_help_shows_env_fallbacks() -> None:
    result = CliRunner().invoke(cli, ["kafka", "start", "--help"])
    assert result.exit_code == 0
    assert "DRIFTREC_KAFKA_PORT" in result.output
