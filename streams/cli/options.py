"""Options shared by several subcommands, and the one place that turns them into Settings.

Each option names its ``DRIFTREC_*`` environment variable (shown in --help); its default is the
Settings default, so the help text and the behaviour cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from streams.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def setting_default(field: str) -> Any:
    """The declared default of a Settings field (for option defaults and help)."""
    return Settings.model_fields[field].default


def bootstrap_option(func: F) -> F:
    """``--bootstrap-servers`` (env DRIFTREC_BOOTSTRAP_SERVERS)."""
    return click.option(
        "--bootstrap-servers",
        envvar="DRIFTREC_BOOTSTRAP_SERVERS",
        show_envvar=True,
        default=setting_default("bootstrap_servers"),
        help="Kafka bootstrap servers, comma separated.",
    )(func)


def device_option(func: F) -> F:
    """``--device`` (env DRIFTREC_DEVICE): where the model runs."""
    return click.option(
        "--device",
        envvar="DRIFTREC_DEVICE",
        show_envvar=True,
        default=setting_default("device"),
        help=Settings.model_fields["device"].description,
    )(func)


def make_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the CLI options that were given laid on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def timeout_option(func: F) -> F:
    """``--timeout`` (env DRIFTREC_KAFKA_TIMEOUT_S): how long to wait for Kafka to answer."""
    return click.option(
        "--timeout",
        "kafka_timeout_s",
        type=click.FloatRange(min=0, min_open=True, max=600),
        envvar="DRIFTREC_KAFKA_TIMEOUT_S",
        show_envvar=True,
        default=setting_default("kafka_timeout_s"),
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
