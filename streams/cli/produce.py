"""``driftrec items load FILE`` and ``driftrec produce FILE``: put a data folder on the topics."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import click
from kafka import KafkaProducer
from tqdm import tqdm

from encoders.data.folder import EVENTS_FILE, ITEMS_FILE, DataFolderError, read_events, read_items
from streams.cli.options import kafka_options, kafka_settings, limit_option, rate_option
from streams.errors import StreamsError
from streams.messages.codec import encode_json
from streams.messages.records import BehaviourEvent
from streams.settings import Settings
from streams.topics import ensure_topics


def _file(path: Path, default_name: str) -> Path:
    """A data file, or the named file inside a data folder."""
    return path / default_name if path.is_dir() else path


def make_producer(settings: Settings) -> KafkaProducer:
    """A kafka-python producer with the connection settings (TLS/SASL included)."""
    try:
        return KafkaProducer(
            **settings.kafka_python_config(),
            acks="all",
            linger_ms=5,
            max_request_size=max(1_048_576, settings.max_message_bytes * 2),
        )
    except Exception as exc:
        raise StreamsError(
            f"cannot connect a producer to {settings.bootstrap_servers}: {exc}"
        ) from exc


def send_events(
    producer: KafkaProducer,
    topic: str,
    events: Iterable[BehaviourEvent],
    *,
    total: int | None = None,
    rate: float | None = None,
    retime: bool = False,
    progress: bool = True,
) -> int:
    """Send events keyed by user_id, paced at ``rate`` events/s (None: as fast as possible).

    ``retime`` stamps each event with the wall-clock time it is sent (for live-latency demos).
    """
    start = time.monotonic()
    sent = 0
    for event in tqdm(events, total=total, unit="ev", disable=not progress, desc="produce"):
        if rate:
            wait = start + sent / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        value = event.to_json()
        if retime:
            value["ts"] = time.time()
        producer.send(topic, key=event.user_id.encode(), value=encode_json(value))
        sent += 1
    producer.flush()
    return sent


def _open_producer(
    bootstrap_servers: str, kafka_timeout_s: float
) -> tuple[Settings, KafkaProducer]:
    """Settings checked against the cluster, the topics made, and a producer (or exit 1)."""
    settings = kafka_settings(bootstrap_servers=bootstrap_servers, kafka_timeout_s=kafka_timeout_s)
    try:
        ensure_topics(settings)
        return settings, make_producer(settings)
    except (DataFolderError, StreamsError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def items() -> None:
    """Manage the catalog on the compacted items topic."""


@items.command("load")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@kafka_options
def items_load(file: Path, bootstrap_servers: str, kafka_timeout_s: float) -> None:
    """Load FILE (items.jsonl or a data folder) onto the items topic, keyed by item_id."""
    try:
        records = read_items(_file(file, ITEMS_FILE))
    except DataFolderError as exc:
        raise click.ClickException(str(exc)) from exc
    settings, producer = _open_producer(bootstrap_servers, kafka_timeout_s)
    try:
        for item in tqdm(records, unit="item", desc="items"):
            producer.send(
                settings.items_topic, key=item.item_id.encode(), value=encode_json(item.to_json())
            )
        producer.flush()
    finally:
        producer.close()
    click.echo(f"{len(records)} items sent to {settings.items_topic}")


@click.command()
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@rate_option(0.0, "Events per second; 0 sends as fast as possible.")
@click.option(
    "--retime",
    is_flag=True,
    help="Stamp each event with the time it is sent (live latency), keeping the file's order.",
)
@limit_option("Send only the first N events.")
@kafka_options
def produce(
    file: Path,
    rate: float,
    retime: bool,
    limit: int | None,
    bootstrap_servers: str,
    kafka_timeout_s: float,
) -> None:
    """Replay FILE (events.jsonl or a data folder) onto the events topic in timestamp order."""
    try:
        events = read_events(_file(file, EVENTS_FILE), times=Settings().times)[:limit]
    except DataFolderError as exc:
        raise click.ClickException(str(exc)) from exc
    settings, producer = _open_producer(bootstrap_servers, kafka_timeout_s)
    started = time.monotonic()
    try:
        n = send_events(
            producer,
            settings.events_topic,
            events,
            total=len(events),
            rate=rate or None,
            retime=retime,
        )
    finally:
        producer.close()
    elapsed = max(time.monotonic() - started, 1e-9)
    topic = settings.events_topic
    click.echo(f"{n} events sent to {topic} in {elapsed:.1f}s ({n / elapsed:.0f}/s)")
