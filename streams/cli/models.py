"""``driftrec models list | show | add | promote | rollback | retire``: the model registry."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from encoders.checkpoint import CheckpointError, load_checkpoint
from streams.cli.options import kafka_options, make_settings, reason_option
from streams.cli.reach import KafkaUnreachable, require_kafka
from streams.errors import StreamsError
from streams.registry.state import ModelEntry, RegistryError, RegistryState
from streams.registry.transport import Registry

T = TypeVar("T")


def _registry(bootstrap_servers: str, kafka_timeout_s: float, *, reachable: bool) -> Registry:
    """The registry client; ``reachable``: first check that Kafka answers (else exit 1)."""
    settings = make_settings(bootstrap_servers=bootstrap_servers, kafka_timeout_s=kafka_timeout_s)
    if reachable:
        require_kafka(settings)
    return Registry(settings)


def _change(bootstrap_servers: str, kafka_timeout_s: float, change: Callable[[Registry], T]) -> T:
    """One registry change, Kafka checked first; a refused change is a one-line error (exit 1)."""
    try:
        return change(_registry(bootstrap_servers, kafka_timeout_s, reachable=True))
    except (RegistryError, StreamsError) as exc:
        raise click.ClickException(str(exc)) from exc


def _read(registry: Registry) -> RegistryState:
    """The registry from Kafka; with the broker down, the local mirror (said loudly on stderr)."""
    try:
        require_kafka(registry.settings)
        return registry.state()
    except (StreamsError, KafkaUnreachable) as exc:
        mirrored = registry.mirror()
        if mirrored is None:
            raise click.ClickException(str(exc)) from exc
        state, read_ts = mirrored
        when = datetime.fromtimestamp(read_ts, UTC).isoformat(timespec="seconds")
        click.echo(f"warning: {exc}; showing the local mirror read at {when}", err=True)
        return state


def _metric(row: dict[str, Any], name: str = "NDCG@10") -> str:
    holdout = row.get("metrics", {}).get("holdout", {})
    value = holdout.get(name)
    return "-" if value is None else f"{value:.4f}"


def _window(row: dict[str, Any]) -> str:
    w = row.get("data_window", {})
    if "since" in w and "until" in w:
        fmt = "%m-%d %H:%M"
        since = datetime.fromtimestamp(w["since"], UTC).strftime(fmt)
        until = datetime.fromtimestamp(w["until"], UTC).strftime(fmt)
        return f"{since}..{until} ({w.get('events', '?')} ev)"
    return str(w.get("source", "-"))[:28]


@click.group()
def models() -> None:
    """The model registry: stored models, champion / challenger status, promotion history."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model, one per line.")
@kafka_options
def list_cmd(as_json: bool, bootstrap_servers: str, kafka_timeout_s: float) -> None:
    """Every registered model, oldest first."""
    rows = _read(_registry(bootstrap_servers, kafka_timeout_s, reachable=False)).rows()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, sort_keys=True))
        return
    if not rows:
        click.echo("no models registered (`driftrec models add MODEL_DIR` or `driftrec trainer`)")
        return
    click.echo(
        f"{'version':<16} {'status':<10} {'created':<20} {'NDCG@10':>8}  {'window':<30} parent"
    )
    for row in rows:
        click.echo(
            f"{row['version']:<16} {row['status']:<10} {row['created'][:19]:<20} "
            f"{_metric(row):>8}  {_window(row):<30} {row.get('parent') or '-'}"
        )


@models.command()
@click.argument("version")
@kafka_options
def show(version: str, bootstrap_servers: str, kafka_timeout_s: float) -> None:
    """One model's record, lineage file and the champion history, as JSON."""
    registry = _registry(bootstrap_servers, kafka_timeout_s, reachable=False)
    state = _read(registry)
    try:
        row = state.get(version).to_json()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    row["status"] = state.status_of(version)
    try:
        row["lineage"] = registry.store.lineage(version)
    except RegistryError as exc:
        row["lineage"] = {"error": str(exc)}
    row["champion_history"] = [h for h in state.pointer.history if h["version"] == version]
    click.echo(json.dumps(row, indent=2, sort_keys=True))


@models.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--promote", is_flag=True, help="Make it the champion right away.")
@reason_option("added by hand", "Recorded with the status.")
@kafka_options
def add(
    model_dir: Path, promote: bool, reason: str, bootstrap_servers: str, kafka_timeout_s: float
) -> None:
    """Copy a checkpoint folder (from `driftrec train`) into the store and register it."""
    registry = _registry(bootstrap_servers, kafka_timeout_s, reachable=True)
    try:
        ckpt = load_checkpoint(model_dir)
        lineage = {
            "created": ckpt.meta.get("created", ""),
            "data_window": {"source": str(model_dir), **ckpt.data},
            "metrics": {"valid": ckpt.metrics},
            "parent": None,
        }
        version, path = registry.store.add(model_dir, lineage)
        entry = ModelEntry(
            version=version,
            status="challenger",
            created=str(lineage["created"]) or datetime.now(UTC).isoformat(timespec="seconds"),
            path=str(path),
            data_window=dict(lineage["data_window"]),
            metrics=dict(lineage["metrics"]),
            reason=reason,
            updated=time.time(),
        )
        if promote:  # one batch: workers never see it as a passing challenger
            registry.register_promoted(entry, reason)
        else:
            registry.register(entry)
    except (CheckpointError, RegistryError, StreamsError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{version} registered{' and promoted to champion' if promote else ''} ({path})")


@models.command()
@click.argument("version")
@reason_option("promoted by hand", "Recorded in the history.")
@kafka_options
def promote(version: str, reason: str, bootstrap_servers: str, kafka_timeout_s: float) -> None:
    """Make VERSION the champion; running workers switch to it without a restart."""
    state = _change(bootstrap_servers, kafka_timeout_s, lambda r: r.promote(version, reason))
    click.echo(f"champion: {state.champion}")


@models.command()
@reason_option("rolled back by hand", "Recorded in the history.")
@kafka_options
def rollback(reason: str, bootstrap_servers: str, kafka_timeout_s: float) -> None:
    """Give the champion role back to the previous champion."""
    state = _change(bootstrap_servers, kafka_timeout_s, lambda r: r.rollback(reason))
    click.echo(f"champion: {state.champion}")


@models.command()
@click.argument("version")
@reason_option("retired by hand", "Recorded with the status.")
@kafka_options
def retire(version: str, reason: str, bootstrap_servers: str, kafka_timeout_s: float) -> None:
    """Retire a challenger (it stops being served to the A/B share)."""
    _change(bootstrap_servers, kafka_timeout_s, lambda r: r.set_status(version, "retired", reason))
    click.echo(f"{version}: retired")
