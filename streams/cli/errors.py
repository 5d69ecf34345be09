"""How every ``driftrec`` command fails: one line on stderr and a documented exit status.

Exit status: 0 done; 1 a runtime failure (Kafka unreachable, a file that cannot be read, a
failed step); 2 a usage error (a bad option, argument or ``DRIFTREC_*`` value). The root command
group routes the errors below to one line each instead of a traceback.
"""

from __future__ import annotations

import os
from typing import IO, Any

import click
from click.core import ParameterSource
from pydantic import ValidationError

from streams.cli.reach import KafkaUnreachable
from streams.cli.settingsdoc import accepted, env_name
from streams.settings import Settings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class OneLineError(click.ClickException):
    """A ClickException shown as ``Error: <message>`` with a chosen exit status."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def settings_error_line(exc: ValidationError) -> str:
    """One line naming each bad variable, the value seen and what it accepts."""
    parts = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        if field in Settings.model_fields:
            value = err.get("input")
            parts.append(f"{env_name(field)}={value!r} is not accepted: {accepted(field)}")
        else:
            parts.append(str(err.get("msg", err)))
    return "; ".join(parts)


def _env_parameter_line(exc: click.BadParameter) -> str | None:
    """One line for an option whose bad value came from its environment variable."""
    param, ctx = exc.param, exc.ctx
    if param is None or ctx is None or param.name is None:
        return None
    if ctx.get_parameter_source(param.name) is not ParameterSource.ENVIRONMENT:
        return None
    envvar = param.envvar if isinstance(param.envvar, str) else None
    if envvar is None:
        return None
    field = envvar.removeprefix("DRIFTREC_").lower()
    what = accepted(field) if field in Settings.model_fields else param.type.name
    return f"{envvar}={os.environ.get(envvar, '')!r} is not accepted: {what}"


class DriftrecGroup(click.Group):
    """The root group: turns known failures of any subcommand into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            raise OneLineError(settings_error_line(exc), EXIT_USAGE) from None
        except click.BadParameter as exc:
            line = _env_parameter_line(exc)
            if line is None:
                raise
            raise OneLineError(line, EXIT_USAGE) from None
        except KafkaUnreachable as exc:
            raise OneLineError(str(exc), EXIT_FAILURE) from None
