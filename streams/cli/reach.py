"""Fail fast, in one line, when Kafka cannot be reached.

Every command that needs Kafka calls :func:`require_kafka` first: one bootstrap attempt bounded
by ``--timeout`` (``DRIFTREC_KAFKA_TIMEOUT_S``), so a wrong address or a stopped broker costs a
few seconds and a sentence saying what to check, not a client's own retry loop and traceback.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from streams.kafkaadmin import ClosingAdminClient
from streams.settings import Settings

#: Loggers of the Kafka clients, quieted during the check (their retries would print warnings).
_CLIENT_LOGGERS = ("kafka", "aiokafka")


class KafkaUnreachable(Exception):
    """Kafka did not answer within the timeout; the message says where and what to check."""

    def __init__(self, settings: Settings, cause: BaseException | None = None) -> None:
        detail = f" ({type(cause).__name__})" if cause is not None else ""
        super().__init__(
            f"cannot reach Kafka at {settings.bootstrap_servers} within "
            f"{settings.kafka_timeout_s:g} s{detail}: check that a broker runs there "
            "(`driftrec kafka status` for the local one), --bootstrap-servers / "
            "DRIFTREC_BOOTSTRAP_SERVERS, and DRIFTREC_KAFKA_SECURITY_PROTOCOL "
            f"({settings.kafka_security_protocol}) with its DRIFTREC_KAFKA_SSL_* / _SASL_* files"
        )


@contextmanager
def quiet_clients() -> Iterator[None]:
    """Silence the Kafka clients' loggers for the duration (restored afterwards)."""
    loggers = [logging.getLogger(name) for name in _CLIENT_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _any_listener(bootstrap: str, timeout_s: float) -> OSError | None:
    """None when some bootstrap address accepts a TCP connection, else the last error."""
    deadline = time.monotonic() + timeout_s
    error: OSError | None = OSError(f"no address in {bootstrap!r}")
    while time.monotonic() < deadline:
        for address in bootstrap.split(","):
            host, _, port = address.strip().rpartition(":")
            try:
                with socket.create_connection(
                    (host.strip("[]") or "localhost", int(port)),
                    timeout=max(deadline - time.monotonic(), 0.1),
                ):
                    return None
            except (OSError, ValueError) as exc:
                error = exc if isinstance(exc, OSError) else OSError(str(exc))
        time.sleep(min(0.25, max(deadline - time.monotonic(), 0)))
    return error


def require_kafka(settings: Settings) -> None:
    """Return when the cluster answers a metadata request; else raise :class:`KafkaUnreachable`.

    A plain TCP connect comes first (nothing listening is the usual case, and kafka-python
    leaks the sockets of its failed attempts); then one bootstrap through the configured
    protocol, which also checks TLS and SASL.
    """
    refused = _any_listener(settings.bootstrap_servers, settings.kafka_timeout_s)
    if refused is not None:
        raise KafkaUnreachable(settings, refused)
    timeout_ms = max(int(settings.kafka_timeout_s * 1000), 1)
    with quiet_clients():
        try:
            admin = ClosingAdminClient(
                **settings.kafka_python_config(),
                client_id="driftrec-check",
                bootstrap_timeout_ms=timeout_ms,
                request_timeout_ms=max(timeout_ms, 1000),
            )
        except Exception as exc:  # every client failure here means "not reachable as configured"
            raise KafkaUnreachable(settings, exc) from None
        with suppress(Exception):  # closing a client that did connect: nothing to report
            admin.close()
