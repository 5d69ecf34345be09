"""The pipeline's subcommands, registered on ``driftrec`` with one line in main.py."""

from __future__ import annotations

import click

from streams.cli.demo import demo
from streams.cli.produce import items, produce
from streams.cli.tail import tail
from streams.cli.worker import worker

PIPELINE_COMMANDS: list[click.Command] = [worker, items, produce, tail, demo]
