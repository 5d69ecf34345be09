"""The driftrec topics and their creation with Kafka's admin API.

The worker declares the same topics to Faust (``streams.worker.factory``); this module creates them
up front with explicit partitions and configs so that a CLI producer that runs before any worker
never leaves an auto-created, single-partition, non-compacted topic behind.

Faust's own topics (the two table changelogs and the leader-election topic) are created here too,
and :func:`ensure_topics` returns only once the broker's metadata lists every topic. Left to Faust,
a worker creates them a few milliseconds before it joins the group; a broker whose metadata has not
caught up yet makes the group leader drop the missing topic from the assignment ("Ignoring missing
topic"), and the catalog table then waits for a changelog partition nobody owns until the next
metadata refresh, five minutes later.
"""

from __future__ import annotations

import time
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
        # Faust's internal topics, as faust.tables.base and faust.assignor.leader_assignor declare
        # them (see the module docstring for why they are created here first).
        TopicSpec(f"{settings.app_id}-profiles-changelog", p, {"cleanup.policy": "compact"}),
        TopicSpec(f"{settings.app_id}-catalog-changelog", 1, {"cleanup.policy": "compact"}),
        TopicSpec(f"{settings.app_id}-__assignor-__leader", 1),
    ]


# How long ensure_topics waits for the broker's metadata to list a topic it has just created.
METADATA_WAIT_S = 15.0


def ensure_topics(settings: Settings) -> list[str]:
    """Create the missing topics; return the names created. Existing ones are left as they are."""
    admin = ClosingAdminClient(**settings.kafka_python_config(), client_id="driftrec-admin")
    try:
        existing = set(admin.list_topics())
        created: list[str] = []
        specs = topic_specs(settings)
        for spec in specs:
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
        _wait_listed(admin, [spec.name for spec in specs], METADATA_WAIT_S)
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


def _wait_listed(admin: ClosingAdminClient, names: list[str], timeout_s: float) -> None:
    """Return once the broker's metadata lists every name; raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        missing = sorted(set(names) - set(admin.list_topics()))
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise StreamsError(
                f"topics {', '.join(missing)} were created but the broker's metadata still does "
                f"not list them after {timeout_s:.0f}s; check the broker's log"
            )
        time.sleep(0.1)
