"""``driftrec config``: the settings reference generated from the Settings object."""

from __future__ import annotations

import click

from streams.cli.settingsdoc import render_configuration


@click.group()
def config() -> None:
    """The DRIFTREC_* settings."""


@config.command("docs")
def config_docs() -> None:
    """Print docs/configuration.md: every setting, its default, what it accepts and means."""
    click.echo(render_configuration(), nl=False)
