"""``driftrec worker``: run the Faust app (same as ``faust -A streams.worker.app worker``)."""

from __future__ import annotations

from pathlib import Path

import click

from streams.cli.options import (
    device_option,
    kafka_options,
    kafka_settings,
    model_dir_option,
    setting_option,
)
from streams.errors import StreamsError
from streams.faustcompat.version import check_faust_version
from streams.topics import ensure_topics


@click.command()
@model_dir_option(
    "Checkpoint folder from `driftrec train` (default: an untrained model, with a warning).",
    envvar="DRIFTREC_MODEL_DIR",
)
@setting_option(
    "--web-port",
    field="web_port",
    type=click.IntRange(1, 65535),
    help="HTTP port of the views and /metrics.",
)
@setting_option(
    "--data-dir",
    field="data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="RocksDB table folder (default: <home>/worker-<web port>).",
)
@device_option
@click.option("--loglevel", default="info", help="Worker log level.")
@kafka_options
def worker(
    model_dir: Path | None,
    web_port: int,
    data_dir: Path | None,
    device: str,
    loglevel: str,
    bootstrap_servers: str,
    kafka_timeout_s: float,
) -> None:
    """Consume events, keep profiles, publish lists; serve /users/{id}/... and /metrics."""
    try:
        check_faust_version()
        settings = kafka_settings(
            model_dir=model_dir,
            web_port=web_port,
            data_dir=data_dir,
            device=device,
            bootstrap_servers=bootstrap_servers,
            kafka_timeout_s=kafka_timeout_s,
        )
        ensure_topics(settings)
    except StreamsError as exc:
        raise click.ClickException(str(exc)) from exc
    import faust

    from streams.worker.factory import create_app

    app = create_app(settings).app
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
