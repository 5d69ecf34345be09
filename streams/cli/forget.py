"""``driftrec forget USER``: remove a user's profile and lists (see streams.worker.control)."""

from __future__ import annotations

import time

import click
from kafka import KafkaConsumer, TopicPartition

from streams.cli.options import kafka_options, kafka_settings
from streams.cli.produce import make_producer
from streams.errors import StreamsError
from streams.readend import reader
from streams.settings import Settings
from streams.topics import ensure_topics
from streams.worker.control import ControlError, forget_record


def _watch(settings: Settings) -> tuple[KafkaConsumer, list[TopicPartition]]:
    """A consumer positioned at the current end of the recommendations topic."""
    consumer = reader(settings)
    parts = consumer.partitions_for_topic(settings.recommendations_topic) or set()
    tps = [TopicPartition(settings.recommendations_topic, p) for p in sorted(parts)]
    consumer.assign(tps)
    consumer.seek_to_end(*tps)
    for tp in tps:
        consumer.position(tp)  # resolve "end" now, before the request is sent
    return consumer, tps


def _wait_tombstone(consumer: KafkaConsumer, user: bytes, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=250).values():
            if any(m.key == user and m.value is None for m in records):
                return True
    return False


@click.command()
@click.argument("user")
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=None,
    help="Wait up to this many seconds for the worker's tombstone on the recommendations topic.",
)
@kafka_options
def forget(user: str, wait_s: float | None, bootstrap_servers: str, kafka_timeout_s: float) -> None:
    """Forget USER: the owning worker deletes the profile and publishes a tombstone.

    The request travels on the events topic, keyed by USER, so it is applied after every event
    of USER sent before it. Raw events on the events topic and its DLQ expire with the topics'
    retention; the recommendations topic receives a null value for USER that consumers treat as
    "delete this user's list".
    """
    try:
        key, value, headers = forget_record(user)
    except ControlError as exc:
        raise click.BadParameter(str(exc), param_hint="USER") from exc
    settings = kafka_settings(bootstrap_servers=bootstrap_servers, kafka_timeout_s=kafka_timeout_s)
    consumer = None
    try:
        ensure_topics(settings)
        if wait_s is not None:
            consumer, _ = _watch(settings)
        producer = make_producer(settings)
        try:
            meta = producer.send(settings.events_topic, key=key, value=value, headers=headers)
            placed = meta.get(timeout=30)
        finally:
            producer.close()
        click.echo(
            f"forget request for {user!r} sent to {settings.events_topic} "
            f"partition {placed.partition} offset {placed.offset}"
        )
        if consumer is not None and wait_s is not None:
            if not _wait_tombstone(consumer, key, wait_s):
                raise click.ClickException(
                    f"no tombstone for {user!r} on {settings.recommendations_topic} within "
                    f"{wait_s:.0f}s: is a worker running (`driftrec worker`)?"
                )
            click.echo(f"{user!r} forgotten: tombstone on {settings.recommendations_topic}")
    except StreamsError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if consumer is not None:
            consumer.close()
