"""Faust App keyword arguments from :class:`~streams.settings.Settings` (one place)."""

from __future__ import annotations

from typing import Any

import faust

from streams.faustcompat.localstate import STORE_URL
from streams.settings import Settings


def broker_credentials(settings: Settings) -> Any:
    """Faust credentials for the configured Kafka security protocol (None for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    context = settings.kafka_ssl_context()
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=None if password is None else password.get_secret_value(),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
        )
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return None


def app_config(settings: Settings) -> dict[str, Any]:
    """Everything ``faust.App`` is given."""
    scheme = "kafka"
    return {
        "broker": [f"{scheme}://{b.strip()}" for b in settings.bootstrap_servers.split(",")],
        "broker_credentials": broker_credentials(settings),
        # Say the store: Faust's default is in-memory and would lose profiles on restart.
        # RocksDB, with damaged local folders rebuilt from the changelog
        # (streams.faustcompat.localstate).
        "store": STORE_URL,
        "datadir": str(settings.worker_data_dir),
        # at_least_once + offsets in the profile = effectively-once state; exactly_once is
        # unreliable in faust-streaming (issues #517, #323).
        "processing_guarantee": "at_least_once",
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "consumer_auto_offset_reset": "earliest",
        "web_enabled": True,
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "canonical_url": f"http://{settings.web_host}:{settings.web_port}",
        "producer_max_request_size": max(1_048_576, settings.max_message_bytes * 2),
        "stream_buffer_maxsize": max(4096, settings.batch_max * 4),
        "broker_commit_interval": settings.commit_interval_s,
        "table_standby_replicas": 1,
        # A restarted or surviving worker waits up to this long for a dead member's partitions.
        "broker_session_timeout": settings.session_timeout_s,
        "broker_heartbeat_interval": min(3.0, settings.session_timeout_s / 3),
        "broker_request_timeout": max(90.0, settings.session_timeout_s),
    }
