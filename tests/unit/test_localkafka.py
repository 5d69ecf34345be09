"""Local broker helpers that need no running broker."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ops.localkafka.launcher import LocalBroker, free_port, kafka_version, port_is_free
from streams.errors import BrokerError


def test_kafka_version_read_from_core_jar(tmp_path: Path) -> None:
    (tmp_path / "kafka-clients-4.4.0.jar").touch()
    (tmp_path / "kafka_2.13-4.4.0.jar").touch()
    assert kafka_version(tmp_path) == "4.4.0"


def test_kafka_version_without_jars_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="driftrec kafka fetch"):
        kafka_version(tmp_path)


def test_port_is_free_sees_a_listener() -> None:
    port = free_port()
    assert port_is_free(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert not port_is_free(port)


def test_start_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        broker = LocalBroker(tmp_path, port=port, controller_port=free_port())
        with pytest.raises(BrokerError, match=f"port {port} .* already in use"):
            broker.start(timeout_s=5)


def test_config_is_rendered_for_loopback_kraft(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, port=19092, controller_port=19093, runtime_dir=tmp_path)
    config = broker._write_config(tmp_path / "data").read_text()
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in config
    assert "controller.quorum.voters=1@127.0.0.1:19093" in config
    assert f"log.dirs={tmp_path / 'data'}" in config
    assert "process.roles=broker,controller" in config


@pytest.mark.parametrize(("port", "controller"), [(0, None), (70000, None), (9092, 9092)])
def test_bad_ports_are_rejected(tmp_path: Path, port: int, controller: int | None) -> None:
    with pytest.raises(ValueError, match="port"):
        LocalBroker(tmp_path, port=port, controller_port=controller)


def test_status_and_stop_without_a_broker(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, port=free_port())
    assert broker.status() is None
    assert broker.stop() is False
