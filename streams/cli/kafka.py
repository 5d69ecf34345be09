"""``driftrec kafka fetch | start | stop | status``: the project's own local Kafka broker."""

from __future__ import annotations

import click

from ops.localkafka.launcher import LocalBroker, fetch_jars, kafka_version, metadata_ok
from streams.cli.options import make_settings, setting_option
from streams.errors import BrokerError
from streams.settings import Settings


def local_broker(settings: Settings) -> LocalBroker:
    """The local broker the settings name (port, controller port, heap)."""
    return LocalBroker(
        settings.kafka_dir,
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        heap=settings.kafka_heap,
    )


port_option = setting_option(
    "--port",
    field="kafka_port",
    type=int,
    help="Client port of the local broker (the controller uses port + 1).",
)


@click.group()
def kafka() -> None:
    """Run a real single-node Apache Kafka broker (KRaft) on 127.0.0.1, no Docker needed."""


@kafka.command()
def fetch() -> None:
    """Resolve the broker jars from Maven Central into the cache (setup runs this)."""
    settings = make_settings()
    try:
        libs = fetch_jars(settings.kafka_dir)
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Kafka {kafka_version(libs)} jars in {libs}")


@kafka.command()
@port_option
def start(port: int) -> None:
    """Start the broker in the background and wait until it answers metadata requests."""
    settings = make_settings(kafka_port=port)
    broker = local_broker(settings)
    already = broker.status()
    try:
        info = already or broker.start(timeout_s=settings.kafka_start_timeout_s)
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "already running" if already else "started"
    click.echo(f"Kafka {info.version} {verb}: bootstrap {info.bootstrap}, pid {info.pid}")
    click.echo(f"log: {info.log}")


@kafka.command()
@port_option
def stop(port: int) -> None:
    """Stop the broker started by `driftrec kafka start` (by its pid)."""
    broker = local_broker(make_settings(kafka_port=port))
    if broker.stop():
        click.echo(f"Kafka on {broker.bootstrap} stopped")
    else:
        click.echo(f"no local Kafka broker is running on {broker.bootstrap}")


@kafka.command()
@port_option
def status(port: int) -> None:
    """Print bootstrap address, version and pid; exit 1 when the broker is not running."""
    broker = local_broker(make_settings(kafka_port=port))
    info = broker.status()
    if info is None:
        click.echo(f"no local Kafka broker is running on {broker.bootstrap}")
        raise SystemExit(1)
    healthy = metadata_ok(info.bootstrap)
    click.echo(f"bootstrap: {info.bootstrap}")
    click.echo(f"version:   {info.version}")
    click.echo(f"pid:       {info.pid}")
    click.echo(f"state:     {'answering metadata requests' if healthy else 'NOT answering'}")
    click.echo(f"data:      {info.runtime_dir}")
    click.echo(f"log:       {info.log}")
    if not healthy:
        raise SystemExit(1)
