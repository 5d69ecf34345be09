"""Options shared by several subcommands, and the one place that turns them into Settings.

Each option names its ``DRIFTREC_*`` environment variable (shown in --help); its default is the
Settings default, so the help text and the behaviour cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from streams.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def setting_default(field: str) -> Any:
    """The declared default of a Settings field (for option defaults and help)."""
    return Settings.model_fields[field].default


def setting_option(*decls: str, field: str, **extra: Any) -> Callable[[F], F]:
    """An option for the Settings field ``field``: its environment variable DRIFTREC_<FIELD>
    (shown in --help), its default, and its description as help unless ``extra`` gives one."""
    extra.setdefault("help", Settings.model_fields[field].description)
    return click.option(
        *decls,
        envvar=f"DRIFTREC_{field.upper()}",
        show_envvar=True,
        default=setting_default(field),
        **extra,
    )


def bootstrap_option(func: F) -> F:
    """``--bootstrap-servers`` (env DRIFTREC_BOOTSTRAP_SERVERS)."""
    return setting_option(
        "--bootstrap-servers",
        field="bootstrap_servers",
        help="Kafka bootstrap servers, comma separated.",
    )(func)


def device_option(func: F) -> F:
    """``--device`` (env DRIFTREC_DEVICE): where the model runs."""
    return setting_option("--device", field="device")(func)


def kafka_options(func: F) -> F:
    """``--bootstrap-servers`` and ``--timeout``: what every command that talks to Kafka takes."""
    return bootstrap_option(timeout_option(func))


def _optional(required: bool) -> dict[str, Any]:
    """``required=True``, or a None default: the option's value when it is not given."""
    return {"required": True} if required else {"default": None}


def data_dir_option(help: str, *, required: bool = False) -> Callable[[F], F]:
    """``--data`` (to ``data_dir``): an existing data folder."""
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help=help,
        **_optional(required),
    )


def model_dir_option(help: str, *, envvar: str | None = None) -> Callable[[F], F]:
    """``--model`` (to ``model_dir``): an existing checkpoint folder; None when not given."""
    extra: dict[str, Any] = {"envvar": envvar, "show_envvar": True} if envvar else {}
    return click.option(
        "--model",
        "model_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        help=help,
        **extra,
    )


def seed_option(help: str) -> Callable[[F], F]:
    """``--seed`` (default 0)."""
    return click.option("--seed", type=int, default=0, help=help)


def split_file_option(help: str) -> Callable[[F], F]:
    """``--split-file``: an existing JSON file of per-user valid/test targets."""
    return click.option(
        "--split-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help=help,
    )


def file_out_option(*decls: str, help: str, required: bool = False) -> Callable[[F], F]:
    """An output file option (``--json-out``, ``--markdown``, ``--chart``): a path, not a folder."""
    return click.option(
        *decls,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help,
        **_optional(required),
    )


def text_encoder_option(help: str, *, envvar: bool = False) -> Callable[[F], F]:
    """``--text-encoder``: a text model folder or id (env DRIFTREC_TEXT_ENCODER if asked)."""
    extra: dict[str, Any] = (
        {"envvar": "DRIFTREC_TEXT_ENCODER", "show_envvar": True} if envvar else {}
    )
    return click.option("--text-encoder", default=None, help=help, **extra)


def rate_option(default: float, help: str) -> Callable[[F], F]:
    """``--rate``: events per second, 0 for as fast as possible."""
    return click.option("--rate", type=click.FloatRange(min=0), default=default, help=help)


def limit_option(help: str) -> Callable[[F], F]:
    """``--limit``: only the first N events (None: all)."""
    return click.option("--limit", type=click.IntRange(min=0), default=None, help=help)


def no_progress_option(help: str) -> Callable[[F], F]:
    """``--no-progress``: no progress bars."""
    return click.option("--no-progress", is_flag=True, help=help)


def reason_option(default: str, help: str) -> Callable[[F], F]:
    """``--reason``: the text a registry change records."""
    return click.option("--reason", default=default, help=help)


def make_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the CLI options that were given laid on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def timeout_option(func: F) -> F:
    """``--timeout`` (env DRIFTREC_KAFKA_TIMEOUT_S): how long to wait for Kafka to answer."""
    return setting_option(
        "--timeout",
        "kafka_timeout_s",
        field="kafka_timeout_s",
        type=click.FloatRange(min=0, min_open=True, max=600),
        help="Seconds to wait for Kafka to answer before giving up with exit status 1.",
    )(func)


def kafka_settings(**overrides: Any) -> Settings:
    """Settings for a command that needs Kafka: built, then checked against the cluster.

    Raises :class:`streams.cli.reach.KafkaUnreachable` (one line, exit 1) when the cluster does
    not answer within ``kafka_timeout_s``.
    """
    from streams.cli.reach import require_kafka

    settings = make_settings(**overrides)
    require_kafka(settings)
    return settings
