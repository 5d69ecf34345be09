"""TLS and SASL/SCRAM pass through the project's settings to both Kafka clients."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from kafka import KafkaConsumer, KafkaProducer

from ops.localkafka.tls import SCRAM_MECHANISM, SecureListeners, make_certificates
from streams.settings import Settings
from tests.integration.pipeline_support import own_broker, secure_listeners

pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "alice-secret"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureListeners]:
    root = tmp_path_factory.mktemp("tls")
    secure = secure_listeners(root / "certs", {USER: PASSWORD})
    with own_broker(root / "broker", secure, timeout_s=90):
        yield secure


def _roundtrip(settings: Settings, topic: str) -> list[bytes]:
    cfg = settings.kafka_python_config()
    producer = KafkaProducer(**cfg)
    for i in range(5):
        producer.send(topic, f"secret-{i}".encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        topic, auto_offset_reset="earliest", consumer_timeout_ms=15_000, group_id=topic, **cfg
    )
    got = []
    for m in consumer:
        got.append(m.value)
        if len(got) == 5:
            break
    consumer.close()
    return got


def test_kafka_python_over_tls(secure_broker: SecureListeners, unique_topic: str) -> None:
    settings = Settings(
        bootstrap_servers=f"127.0.0.1:{secure_broker.ssl_port}",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=secure_broker.certs.ca_cert,
    )
    assert _roundtrip(settings, unique_topic) == [f"secret-{i}".encode() for i in range(5)]


def test_kafka_python_over_sasl_scram(secure_broker: SecureListeners, unique_topic: str) -> None:
    settings = _sasl_settings(secure_broker, PASSWORD)
    assert _roundtrip(settings, unique_topic) == [f"secret-{i}".encode() for i in range(5)]


async def _aiokafka_roundtrip(settings: Settings, topic: str) -> bytes:
    producer = AIOKafkaProducer(**settings.aiokafka_config())
    try:
        await producer.start()
        await producer.send_and_wait(topic, b"over-tls")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, auto_offset_reset="earliest", group_id=topic, **settings.aiokafka_config()
    )
    try:
        await consumer.start()
        msg = await asyncio.wait_for(consumer.getone(), timeout=15)
        return bytes(msg.value)
    finally:
        await consumer.stop()


def test_aiokafka_over_tls(secure_broker: SecureListeners, unique_topic: str) -> None:
    settings = Settings(
        bootstrap_servers=f"127.0.0.1:{secure_broker.ssl_port}",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=secure_broker.certs.ca_cert,
    )
    assert asyncio.run(_aiokafka_roundtrip(settings, unique_topic)) == b"over-tls"


def test_aiokafka_over_sasl_scram(secure_broker: SecureListeners, unique_topic: str) -> None:
    settings = _sasl_settings(secure_broker, PASSWORD)
    assert asyncio.run(_aiokafka_roundtrip(settings, unique_topic)) == b"over-tls"


def _sasl_settings(secure: SecureListeners, password: str) -> Settings:
    return Settings(
        bootstrap_servers=f"127.0.0.1:{secure.sasl_port}",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=SCRAM_MECHANISM,
        kafka_sasl_username=USER,
        kafka_sasl_password=password,
        kafka_ssl_cafile=secure.certs.ca_cert,
    )


def _refused(settings: Settings, topic: str) -> None:
    """Run a round trip that must fail to connect; aiokafka leaks the failed transport, so its
    ResourceWarning is collected here instead of surfacing in a later test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            with pytest.raises(KafkaConnectionError):
                asyncio.run(_aiokafka_roundtrip(settings, topic))
        finally:
            gc.collect()


def test_wrong_scram_password_is_refused(
    secure_broker: SecureListeners, unique_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    _refused(_sasl_settings(secure_broker, "wrong"), unique_topic)
    assert "Authentication failed" in caplog.text


def test_tls_refuses_an_untrusted_ca(
    secure_broker: SecureListeners,
    tmp_path: Path,
    unique_topic: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = make_certificates(tmp_path / "other")
    settings = Settings(
        bootstrap_servers=f"127.0.0.1:{secure_broker.ssl_port}",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=other.ca_cert,
    )
    _refused(settings, unique_topic)
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
