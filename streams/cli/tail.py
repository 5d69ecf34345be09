"""``driftrec tail``: watch recommendation lists as they are published."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
from kafka import KafkaConsumer, TopicPartition

from streams.cli.options import kafka_options, kafka_settings
from streams.errors import StreamsError
from streams.readend import reader
from streams.settings import Settings


def open_consumer(settings: Settings, topic: str, *, from_beginning: bool) -> KafkaConsumer:
    """A group-less consumer assigned every partition of ``topic``."""
    consumer = reader(settings)
    try:
        deadline = time.monotonic() + 15
        parts = consumer.partitions_for_topic(topic)
        while not parts and time.monotonic() < deadline:
            time.sleep(0.2)
            parts = consumer.partitions_for_topic(topic)
        if not parts:
            raise StreamsError(f"topic {topic!r} does not exist on {settings.bootstrap_servers}")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        if from_beginning:
            consumer.seek_to_beginning(*tps)
        else:
            consumer.seek_to_end(*tps)
            for tp in tps:
                consumer.position(tp)  # resolve "end" now, before anything new arrives
    except BaseException:
        consumer.close()
        raise
    return consumer


def format_row(rec: dict[str, Any], top: int = 3) -> str:
    """One human-readable line for a list."""
    items = ", ".join(i["item_id"] for i in rec.get("items", [])[:top])
    more = len(rec.get("items", [])) - top
    when = time.strftime("%H:%M:%S", time.localtime(rec.get("published_ts", 0)))
    return (
        f"{when}  {rec['user_id'][:16]:<16} {rec['trigger']:<10} "
        f"drift={rec.get('drift', 0.0):.3f}  {items}{f' (+{more})' if more > 0 else ''}"
    )


@click.command()
@click.option("--user", default=None, help="Only this user's lists.")
@click.option("--json", "as_json", is_flag=True, help="Print each list's JSON value, one per line.")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest list, not the newest.")
@click.option(
    "--idle-timeout",
    "idle_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Exit after this many seconds without a new list (default: run until Ctrl-C).",
)
@kafka_options
def tail(
    user: str | None,
    as_json: bool,
    from_beginning: bool,
    idle_s: float | None,
    bootstrap_servers: str,
    kafka_timeout_s: float,
) -> None:
    """Show live recommendation lists as a table (or as JSON lines)."""
    settings = kafka_settings(bootstrap_servers=bootstrap_servers, kafka_timeout_s=kafka_timeout_s)
    try:
        consumer = open_consumer(
            settings, settings.recommendations_topic, from_beginning=from_beginning
        )
    except StreamsError as exc:
        raise click.ClickException(str(exc)) from exc
    if not as_json:
        click.echo(f"{'time':<8}  {'user':<16} {'trigger':<10} drift        top items")
    last = time.monotonic()
    try:
        while idle_s is None or time.monotonic() - last < idle_s:
            batch = consumer.poll(timeout_ms=200)
            for records in batch.values():
                for m in records:
                    if user is not None and m.key != user.encode():
                        continue
                    last = time.monotonic()
                    if m.value is None:  # a forgotten user's tombstone
                        if not as_json:
                            click.echo(f"{'':<8}  {m.key.decode(errors='replace'):<16} forgotten")
                        continue
                    if as_json:
                        click.echo(m.value.decode())
                    else:
                        click.echo(format_row(json.loads(m.value)))
                    # Line by line, so a pipe or file sees each list as it arrives.
                    sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
