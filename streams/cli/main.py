"""Root of the ``driftrec`` command: global options and the subcommand registry.

Subcommands are imported when they run (not when the root loads), so a command that needs no
model pays no torch import: ``driftrec produce`` and friends start, and fail, quickly.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version
from typing import Any

import click

from streams.cli.errors import DriftrecGroup

#: Subcommand name -> "module:attribute" of its click command.
COMMANDS: dict[str, str] = {
    "kafka": "streams.cli.kafka:kafka",
    "data": "streams.cli.data:data",
    "bench": "streams.cli.bench:bench",
    "eval": "streams.cli.eval:eval_cmd",
    "models": "streams.cli.models:models",
    "train": "streams.cli.train:train_cmd",
    "cooc": "streams.cli.cooc:cooc_cmd",
    "trainer": "streams.cli.trainer:trainer",
    "forget": "streams.cli.forget:forget",
    "config": "streams.cli.config:config",
    "schemas": "streams.cli.schemas:schemas",
    "worker": "streams.cli.worker:worker",
    "items": "streams.cli.produce:items",
    "produce": "streams.cli.produce:produce",
    "tail": "streams.cli.tail:tail",
    "demo": "streams.cli.demo:demo",
}


class LazyGroup(DriftrecGroup):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attr = target.partition(":")
        command: Any = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.version_option(version("driftrec"), prog_name="driftrec")
def cli() -> None:
    """driftrec: a streaming recommender that follows users' changing interests.

    Every option that names an environment variable reads it when the option is not given.
    Exit status: 0 done, 1 a runtime failure (e.g. Kafka unreachable), 2 a usage error (a bad
    option, argument or DRIFTREC_* value).
    """


def main() -> None:
    """Console-script entry point."""
    cli()
