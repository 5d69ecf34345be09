"""The driftrec topics and their creation with Kafka's admin API.

The worker declares the same topics to Faust (``streams.worker.app``); this module creates them up
front with explicit partitions and configs so that a CLI producer that runs before any worker never
leaves an auto-created, single-partition, non-compacted topic behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.errors import StreamsError
from streams.kafkaadmin import ClosingAdminClient
from streams.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the pipeline reads or writes."""
    p = settings.partitions
    return [
        TopicSpec(settings.events_topic, p),
        # One partition: the catalog is small and slow-moving, and a single-partition GlobalTable
        # is the configuration Faust recommends for multi-worker recovery.
        TopicSpec(settings.items_topic, 1, {"cleanup.policy": "compact"}),
        TopicSpec(settings.recommendations_topic, p),
        TopicSpec(settings.dlq_topic(settings.events_topic), 1),
        TopicSpec(settings.dlq_topic(settings.items_topic), 1),
    ]


def ensure_topics(settings: Settings) -> list[str]:
    """Create the missing topics; return the names created. Existing ones are left as they are."""
    admin = ClosingAdminClient(**settings.kafka_python_config(), client_id="driftrec-admin")
    try:
        existing = set(admin.list_topics())
        created: list[str] = []
        for spec in topic_specs(settings):
            if spec.name in existing:
                continue
            new = NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=settings.replication_factor,
                topic_configs=spec.config,
            )
            try:
                admin.create_topics([new])
            except TopicAlreadyExistsError:
                continue  # another process created it meanwhile
            created.append(spec.name)
        return created
    except StreamsError:
        raise
    except Exception as exc:
        raise StreamsError(
            f"could not create topics on {settings.bootstrap_servers}: {exc}. Is the broker up "
            "(`driftrec kafka start`) and DRIFTREC_BOOTSTRAP_SERVERS right?"
        ) from exc
    finally:
        admin.close()
