"""The one typed settings object of driftrec, read from the environment (prefix ``DRIFTREC_``).

Everything else receives values from here as arguments; nothing else reads the environment.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Repository root; ops/ (broker pom, Prometheus and Grafana files) is found relative to it.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """driftrec configuration. Every field can be set as ``DRIFTREC_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="DRIFTREC_", frozen=True, extra="ignore")

    home: Path = Field(
        default=Path.home() / ".cache" / "driftrec",
        description="Cache and state root: dependency venvs, Kafka jars, broker data, caches.",
    )

    # --- Kafka connection (all clients: Faust worker, CLI producers and consumers) ---
    bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    # --- The local broker started by `driftrec kafka start` ---
    kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: int | None = Field(
        default=None, ge=1, le=65535, description="Defaults to kafka_port + 1."
    )
    kafka_heap: str = Field(default="512m", description="Broker JVM heap (-Xmx).")
    kafka_start_timeout_s: float = Field(default=90.0, gt=0)

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        """TLS context for asyncio clients (aiokafka, Faust); None for plaintext protocols."""
        if "SSL" not in self.kafka_security_protocol:
            return None
        context = ssl.create_default_context(
            cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None
        )
        if self.kafka_ssl_certfile:
            context.load_cert_chain(
                str(self.kafka_ssl_certfile),
                str(self.kafka_ssl_keyfile) if self.kafka_ssl_keyfile else None,
            )
        return context

    def aiokafka_config(self) -> dict[str, Any]:
        """Connection keyword arguments for aiokafka clients."""
        cfg: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        context = self.kafka_ssl_context()
        if context is not None:
            cfg["ssl_context"] = context
        if self.kafka_sasl_mechanism:
            cfg["sasl_mechanism"] = self.kafka_sasl_mechanism
            cfg["sasl_plain_username"] = self.kafka_sasl_username
            if self.kafka_sasl_password is not None:
                cfg["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        return cfg

    def kafka_python_config(self) -> dict[str, Any]:
        """Connection keyword arguments for kafka-python clients (producer, consumer, admin)."""
        cfg: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            cfg["sasl_mechanism"] = self.kafka_sasl_mechanism
            cfg["sasl_plain_username"] = self.kafka_sasl_username
            if self.kafka_sasl_password is not None:
                cfg["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_ssl_cafile:
            cfg["ssl_cafile"] = str(self.kafka_ssl_cafile)
        if self.kafka_ssl_certfile:
            cfg["ssl_certfile"] = str(self.kafka_ssl_certfile)
        if self.kafka_ssl_keyfile:
            cfg["ssl_keyfile"] = str(self.kafka_ssl_keyfile)
        return cfg


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
