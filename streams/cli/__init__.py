"""The ``driftrec`` command line: one entry point, one subcommand per job."""

from __future__ import annotations

from streams.cli.main import cli, main

__all__ = ["cli", "main"]
