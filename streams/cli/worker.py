"""``driftrec worker``: run the Faust app (same as ``faust -A streams.worker.app worker``)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from streams.cli.options import bootstrap_option, kafka_settings, setting_default, timeout_option
from streams.errors import StreamsError
from streams.faustcompat.version import check_faust_version
from streams.topics import ensure_topics


@click.command()
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    envvar="DRIFTREC_MODEL_DIR",
    show_envvar=True,
    default=None,
    help="Checkpoint folder from `driftrec train` (default: an untrained model, with a warning).",
)
@click.option(
    "--web-port",
    type=click.IntRange(1, 65535),
    envvar="DRIFTREC_WEB_PORT",
    show_envvar=True,
    default=setting_default("web_port"),
    help="HTTP port of the views and /metrics.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="DRIFTREC_DATA_DIR",
    show_envvar=True,
    default=None,
    help="RocksDB table folder (default: <home>/worker-<web port>).",
)
@click.option(
    "--device",
    envvar="DRIFTREC_DEVICE",
    show_envvar=True,
    default=setting_default("device"),
    help="auto, cpu or cuda[:N].",
)
@click.option("--loglevel", default="info", help="Worker log level.")
@bootstrap_option
@timeout_option
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
    overrides = {
        "DRIFTREC_MODEL_DIR": model_dir,
        "DRIFTREC_WEB_PORT": web_port,
        "DRIFTREC_DATA_DIR": data_dir,
        "DRIFTREC_DEVICE": device,
        "DRIFTREC_BOOTSTRAP_SERVERS": bootstrap_servers,
    }
    # The app module reads Settings once from the environment; the options go there first.
    for name, value in overrides.items():
        if value is not None:
            os.environ[name] = str(value)
    try:
        check_faust_version()
        ensure_topics(kafka_settings(kafka_timeout_s=kafka_timeout_s))
    except StreamsError as exc:
        raise click.ClickException(str(exc)) from exc
    import faust

    from streams.worker.app import app

    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
