"""Root of the ``driftrec`` command: global options and the subcommand registry."""

from __future__ import annotations

from importlib.metadata import version

import click

from streams.cli.bench import bench
from streams.cli.config import config
from streams.cli.data import data
from streams.cli.eval import eval_cmd
from streams.cli.forget import forget
from streams.cli.kafka import kafka
from streams.cli.models import models
from streams.cli.pipeline import PIPELINE_COMMANDS
from streams.cli.train import train_cmd
from streams.cli.trainer import trainer


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(version("driftrec"), prog_name="driftrec")
def cli() -> None:
    """driftrec: a streaming recommender that follows users' changing interests.

    Every option that names an environment variable reads it when the option is not given.
    """


cli.add_command(kafka)
cli.add_command(data)
cli.add_command(bench)
cli.add_command(eval_cmd)
cli.add_command(models)
cli.add_command(train_cmd)
cli.add_command(trainer)
cli.add_command(forget)
cli.add_command(config)
for _command in PIPELINE_COMMANDS:  # worker, items, produce, tail, demo
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli()
