"""The one typed settings object of driftrec, read from the environment (prefix ``DRIFTREC_``).

Everything else receives values from here as arguments; nothing else reads the environment.
"""

from __future__ import annotations

import calendar
import ssl
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from profiles.policy import PolicyConfig
from streams.messages.records import TimeRule

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
    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        description="Kafka bootstrap servers (host:port, comma separated).",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka security protocol of every client."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism (with a SASL_* protocol)."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA certificates (PEM) that sign the brokers' certificates."
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (PEM) for TLS client authentication."
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="Private key (PEM) of the client certificate."
    )
    kafka_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Longest wait for Kafka to answer before a command gives up (seconds; "
        "the --timeout option of every command that needs Kafka).",
    )

    # --- The local broker started by `driftrec kafka start` ---
    kafka_port: int = Field(
        default=9092, ge=1, le=65535, description="Client port of the local broker."
    )
    kafka_controller_port: int | None = Field(
        default=None, ge=1, le=65535, description="Defaults to kafka_port + 1."
    )
    kafka_heap: str = Field(default="512m", description="Broker JVM heap (-Xmx).")
    kafka_start_timeout_s: float = Field(
        default=90.0, gt=0, description="Longest wait for the local broker to answer (seconds)."
    )

    # --- Topics (docs/contracts.md); the worker creates them ---
    events_topic: str = Field(default="behaviour-events", description="Events (key user_id).")
    items_topic: str = Field(default="items", description="Compacted catalog (key item_id).")
    recommendations_topic: str = Field(default="recommendations", description="Published lists.")
    dlq_suffix: str = Field(default="-dlq", description="Dead-letter topic = <topic><suffix>.")
    partitions: int = Field(
        default=4, ge=1, le=1024, description="Partitions of the events and recommendations topics."
    )
    replication_factor: int = Field(
        default=1, ge=1, description="Replication factor of the topics driftrec creates."
    )
    max_message_bytes: int = Field(
        default=65_536, ge=1024, description="Larger messages are dead-lettered as too_large."
    )
    ts_unit: Literal["auto", "s", "ms"] = Field(
        default="auto",
        description=(
            "How a numeric event ts is read: s (epoch seconds), ms (epoch milliseconds) or auto "
            "(the reading that lies in the accepted range; refused as ambiguous when both do, "
            "possible only with DRIFTREC_TS_MIN before 1970-02-17). Read by the worker, the "
            "trainer, produce, train, eval and data import (docs/contracts.md#timestamps)."
        ),
    )
    ts_min: date = Field(
        default=date(2000, 1, 1),
        ge=date(1900, 1, 1),
        lt=date(2100, 1, 1),
        description=(
            "Earliest accepted event time (a UTC day); earlier events are bad_timestamp. Set it "
            "before 2000 to keep historical dates (data import then shifts none)."
        ),
    )

    # --- The worker (Faust app) ---
    app_id: str = Field(default="driftrec", description="Faust app id = Kafka consumer group.")
    web_host: str = Field(default="127.0.0.1", description="HTTP bind address (views, /metrics).")
    web_port: int = Field(default=6066, ge=1, le=65535, description="HTTP port (views, /metrics).")
    data_dir: Path | None = Field(
        default=None, description="RocksDB table folder; default <home>/worker-<web_port>."
    )
    model_dir: Path | None = Field(
        default=None, description="Checkpoint from `driftrec train`; unset: untrained (warning)."
    )
    device: str = Field(default="auto", description="auto (cuda when present), cpu or cuda[:N].")
    text_encoder: str | None = Field(
        default=None,
        description="Text encoder: local folder or Hugging Face id; default: the packaged MiniLM.",
    )
    torch_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="CPU threads for the model thread (1: OpenMP spinning on a busy machine makes "
        "small LSTM steps 10-20x slower with more).",
    )
    text_memory_cache: int = Field(
        default=4096,
        ge=0,
        le=1_000_000,
        description="Text vectors kept in memory (LRU keyed by a hash of the text, in front of "
        "the on-disk cache; events' free text included): a repeated search is not encoded again. "
        "About 1.5 KiB each with the packaged encoder; 0: off.",
    )
    batch_max: int = Field(default=256, ge=1, le=65_536, description="Events per micro-batch.")
    batch_wait_s: float = Field(
        default=0.05,
        gt=0,
        description="fixed mode: longest wait to fill a micro-batch (seconds); adaptive mode: "
        "longest drain of what has arrived.",
    )
    batch_mode: Literal["adaptive", "fixed"] = Field(
        default="adaptive",
        description="adaptive: a micro-batch is taken as soon as an event has arrived, with every "
        "event already waiting (up to DRIFTREC_BATCH_MAX), without waiting for more; fixed: "
        "Faust's take_events, which waits up to DRIFTREC_BATCH_WAIT_S for the batch to fill.",
    )
    gc_freeze: bool = Field(
        default=False,
        description="After the first model and catalog load, move every object alive then into "
        "the garbage collector's permanent generation (gc.freeze), so full collections skip the "
        "long-lived objects of torch and the text encoder; a hot swap unfreezes them. Off by "
        "default: the bench's gc_freeze section has not shown it faster (docs/benchmarks.md).",
    )
    item_batch_max: int = Field(default=256, ge=1, description="Items embedded per batch.")
    top_k: int = Field(default=10, ge=1, le=1000, description="Items per published list.")
    recent_window: int = Field(default=20, ge=1, le=200, description="Recent events kept per user.")
    item_wait_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="How long an event naming an item not yet in the catalog is held (with the "
        "user's later events) before it goes to the DLQ as unknown_item (seconds).",
    )
    item_wait_max: int = Field(
        default=10_000,
        ge=0,
        description="Most events held for missing items; past it the oldest is given up.",
    )
    exclude: Literal["recent", "consumed", "none"] = Field(
        default="recent",
        description="What lists leave out: the recent window's items, everything consumed (the "
        "window exactly + a per-user Bloom filter of older items), or nothing (profiles.consumed).",
    )
    exclude_filter_bytes: int = Field(
        default=128,
        ge=8,
        le=4096,
        description="Bloom filter size per profile under exclude=consumed (128 bytes, 4 hashes: "
        "~1 % false positives at 100 items beyond the window).",
    )
    commit_interval_s: float = Field(
        default=1.0, gt=0, description="How often consumed offsets are committed (seconds)."
    )
    lag_interval_s: float = Field(default=5.0, gt=0, description="Consumer-lag gauge refresh.")
    session_timeout_s: float = Field(
        default=30.0,
        ge=6,
        le=1800,
        description="Kafka group session timeout (seconds): a worker that dies without leaving "
        "the group (kill -9, lost host) holds its partitions this long before others take over.",
    )

    model_loader: str | None = Field(
        default=None,
        description="module:function that loads the serving model from the Settings (plug-ins "
        "and fault-injection tests); default: the model of model_dir.",
    )
    retry_initial_s: float = Field(
        default=0.2, gt=0, description="First wait before retrying a transient failure."
    )
    retry_max_s: float = Field(
        default=10.0, gt=0, description="Longest wait between retries of a transient failure."
    )
    stall_after_s: float = Field(
        default=60.0,
        gt=0,
        description="/health answers 503 (stalled) when events wait (lag > 0) and no batch "
        "finished for this long.",
    )

    # --- Publish policy (profiles.policy.PolicyConfig) ---
    drift_floor: float = Field(default=0.05, ge=0, le=2, description="Lowest drift threshold.")
    drift_ceiling: float = Field(default=0.5, ge=0, le=2, description="Highest drift threshold.")
    drift_k: float = Field(default=2.0, ge=0, description="Std devs above a user's usual drift.")
    drift_alpha: float = Field(default=0.1, gt=0, le=1, description="Drift statistics EMA weight.")
    drift_confirm: int = Field(
        default=2, ge=1, description="Consecutive events over the threshold before a drift list."
    )
    drift_direction: bool = Field(
        default=False,
        description="Confirm a drift streak only by events that go on from the pending move "
        "rather than back toward the published interest; see PolicyConfig.direction.",
    )
    drift_refresh_keeps_streak: bool = Field(
        default=False,
        description="A refresh during a pending drift streak keeps the streak and the drift "
        "reference; see PolicyConfig.refresh_keeps_streak.",
    )
    drift_refresh_keeps_reference: bool = Field(
        default=False,
        description="A refresh never moves the drift reference nor ends a pending streak; see "
        "PolicyConfig.refresh_keeps_reference.",
    )
    refresh_events: int = Field(default=50, ge=1, description="Refresh a list after N events.")
    refresh_seconds: float = Field(
        default=3600.0, gt=0, description="Refresh a list after this much event time."
    )

    # --- Learning loop: registry, trainer, hot swap, A/B (streams.registry, streams.trainer) ---
    registry_topic: str = Field(
        default="model-registry",
        description="Compacted topic of model records (key version) and the @champion pointer.",
    )
    models_dir: Path | None = Field(
        default=None, description="Model folder store; default <home>/models."
    )
    ab_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of users (stable hash of user_id) served by the challenger model.",
    )
    hit_window: int = Field(
        default=5,
        ge=1,
        le=200,
        description="Live hit rate: a list is a hit when the user acts on one of its items "
        "within this many next events.",
    )
    rebuild: Literal["lazy", "background"] = Field(
        default="background",
        description="After a model swap, rebuild profiles on each user's next event (lazy) or "
        "for all known users at once on the model thread (background).",
    )
    rebuild_ahead_max: int = Field(
        default=10_000,
        ge=0,
        le=1_000_000,
        description="Background rebuild: the most recently active profiles rebuilt ahead and "
        "held in memory until their user's next event (about 7 KiB each); the others are "
        "rebuilt lazily on their user's next event.",
    )
    text_cache_dir: Path | None = Field(
        default=None,
        description="The persistent text-vector cache (item text -> vector, per encoder), one "
        "folder shared by driftrec train, eval, the trainer and the workers; unset: "
        "$DRIFTREC_HOME/cache.",
    )
    watch_registry: bool = Field(
        default=True, description="Workers follow the registry topic and hot-swap models."
    )

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def worker_data_dir(self) -> Path:
        """Where this worker keeps its RocksDB tables."""
        return self.data_dir or self.home / f"worker-{self.web_port}"

    @property
    def model_store_dir(self) -> Path:
        """Where registered model folders live."""
        return self.models_dir or self.home / "models"

    @property
    def cache_dir(self) -> Path:
        """The text-vector cache folder shared by train, eval, the trainer and the workers."""
        return self.text_cache_dir or self.home / "cache"

    @property
    def times(self) -> TimeRule:
        """How event timestamps are read (DRIFTREC_TS_UNIT, DRIFTREC_TS_MIN)."""
        return TimeRule(self.ts_unit, float(calendar.timegm(self.ts_min.timetuple())))

    def dlq_topic(self, topic: str) -> str:
        return f"{topic}{self.dlq_suffix}"

    def policy_config(self) -> PolicyConfig:
        """The publish-policy knobs as the profiles package takes them."""
        return PolicyConfig(
            floor=self.drift_floor,
            ceiling=self.drift_ceiling,
            k=self.drift_k,
            alpha=self.drift_alpha,
            confirm=self.drift_confirm,
            direction=self.drift_direction,
            refresh_keeps_streak=self.drift_refresh_keeps_streak,
            refresh_keeps_reference=self.drift_refresh_keeps_reference,
            refresh_events=self.refresh_events,
            refresh_seconds=self.refresh_seconds,
        )

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

    def _kafka_common_config(self) -> dict[str, Any]:
        """What every Kafka client takes alike: servers, security protocol, SASL login."""
        cfg: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            cfg["sasl_mechanism"] = self.kafka_sasl_mechanism
            cfg["sasl_plain_username"] = self.kafka_sasl_username
            if self.kafka_sasl_password is not None:
                cfg["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        return cfg

    def aiokafka_config(self) -> dict[str, Any]:
        """Connection keyword arguments for aiokafka clients (TLS as an ``ssl.SSLContext``)."""
        cfg = self._kafka_common_config()
        context = self.kafka_ssl_context()
        if context is not None:
            cfg["ssl_context"] = context
        return cfg

    def kafka_python_config(self) -> dict[str, Any]:
        """Connection keyword arguments for kafka-python clients (producer, consumer, admin;
        TLS as file paths)."""
        cfg = self._kafka_common_config()
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
