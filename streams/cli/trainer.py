"""``driftrec trainer`` (the loop's service) and ``driftrec train --from-kafka`` (one round)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from encoders.evaluation.holdout import PRIMARY
from encoders.training.loop import TrainConfig
from streams.cli.options import (
    device_option,
    kafka_options,
    kafka_settings,
    no_progress_option,
    seed_option,
)
from streams.errors import StreamsError
from streams.registry.state import RegistryError
from streams.registry.transport import Registry
from streams.trainer.candidate import Verdict, run_round
from streams.trainer.logdata import parse_duration, read_log
from streams.trainer.service import TrainerService


def duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    """Click callback: ``7d`` -> seconds."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@dataclass(frozen=True)
class RoundSpec:
    """How one training round trains and judges (``trainer`` and ``train --from-kafka``)."""

    epochs: int
    seed: int
    device: str
    progress: bool
    holdout: float = 0.2
    min_gain: float = 0.0

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, device=self.device, progress=self.progress)


def round_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``trainer``'s options of a round, handed to ``func`` as one ``spec: RoundSpec``."""

    @functools.wraps(func)
    def with_spec(
        *args: Any,
        holdout: float,
        min_gain: float,
        epochs: int,
        seed: int,
        device: str,
        no_progress: bool,
        **kwargs: Any,
    ) -> Any:
        spec = RoundSpec(epochs, seed, device, not no_progress, holdout, min_gain)
        return func(*args, spec=spec, **kwargs)

    options = [
        click.option(
            "--holdout", type=float, default=RoundSpec.holdout, help="Newest share held out."
        ),
        click.option(
            "--min-gain",
            type=float,
            default=RoundSpec.min_gain,
            help=f"Promote only when holdout {PRIMARY} beats the champion's by more.",
        ),
        click.option("--epochs", type=int, default=30, help="Most epochs per round."),
        seed_option("Training seed."),
        device_option,
        no_progress_option("No progress bars."),
    ]
    for option in reversed(options):
        with_spec = option(with_spec)
    return with_spec


def report(verdict: Verdict) -> None:
    c = verdict.candidate.get(PRIMARY, 0.0)
    o = None if verdict.champion is None else verdict.champion.get(PRIMARY, 0.0)
    w = verdict.data_window
    click.echo(
        f"{verdict.version}: {w['train_events']} events trained, {w['holdout_events']} held out; "
        f"holdout {PRIMARY} {c:.4f}"
        + ("" if o is None else f" vs champion {verdict.champion_version} {o:.4f}")
    )
    if w.get("skipped"):
        click.echo(f"skipped records: {json.dumps(w['skipped'], sort_keys=True)}")
    click.echo(("PROMOTED: " if verdict.promoted else "") + verdict.reason)


def from_kafka(
    since_s: float,
    spec: RoundSpec,
    bootstrap_servers: str | None = None,
    kafka_timeout_s: float | None = None,
) -> Verdict:
    """``driftrec train --from-kafka``: one round, registered as challenger, never promoted."""
    import time

    settings = kafka_settings(bootstrap_servers=bootstrap_servers, kafka_timeout_s=kafka_timeout_s)
    try:
        data = read_log(settings, time.time() - since_s, progress=spec.progress)
        click.echo(
            f"log: {len(data.folder.items)} items, {len(data.folder.events)} events of the last "
            f"{since_s:.0f}s; skipped {dict(data.skipped) or 'none'}",
            err=True,
        )
        verdict = run_round(
            settings,
            data,
            registry=Registry(settings),
            train_config=spec.train_config(),
            holdout_frac=spec.holdout,
            min_gain=spec.min_gain,
            seed=spec.seed,
            promote=False,
        )
    except (StreamsError, RegistryError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    report(verdict)
    return verdict


@click.command()
@click.option(
    "--since",
    "since_s",
    default="7d",
    callback=duration,
    help="Train on what the log received in this last stretch (e.g. 12h, 7d).",
)
@click.option(
    "--every",
    "every_s",
    default=None,
    callback=duration,
    help="Retrain schedule (default without --hit-threshold: the --since window).",
)
@click.option(
    "--hit-threshold",
    type=float,
    default=None,
    help="Retrain when the champion's live hit rate falls below this.",
)
@click.option(
    "--metrics-url",
    "metrics_urls",
    multiple=True,
    help="A worker's Prometheus endpoint, e.g. http://127.0.0.1:6066/metrics (repeatable).",
)
@click.option("--min-outcomes", type=int, default=200, help="Lists judged before a verdict.")
@click.option("--cooldown", "cooldown_s", default="5m", callback=duration, help="After a round.")
@click.option("--check-every", "check_s", default="30s", callback=duration, help="Look this often.")
@click.option("--once", is_flag=True, help="Run one round now and exit.")
@round_options
@kafka_options
def trainer(
    since_s: float,
    every_s: float | None,
    hit_threshold: float | None,
    metrics_urls: tuple[str, ...],
    min_outcomes: int,
    cooldown_s: float,
    check_s: float,
    once: bool,
    spec: RoundSpec,
    bootstrap_servers: str,
    kafka_timeout_s: float,
) -> None:
    """Retrain from the log on a schedule or when the live hit rate falls; promote only a model
    that beats the champion on a recent time-ordered holdout."""
    settings = kafka_settings(bootstrap_servers=bootstrap_servers, kafka_timeout_s=kafka_timeout_s)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        service = TrainerService(
            settings,
            since_s=since_s,
            train_config=spec.train_config(),
            every_s=every_s if every_s is not None or hit_threshold is not None else since_s,
            threshold=hit_threshold,
            metrics_urls=metrics_urls,
            min_outcomes=min_outcomes,
            cooldown_s=cooldown_s,
            holdout_frac=spec.holdout,
            min_gain=spec.min_gain,
            seed=spec.seed,
        )
        if once:
            report(service.round("--once"))
            return
        service.run(check_s, report)
    except (StreamsError, RegistryError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass
