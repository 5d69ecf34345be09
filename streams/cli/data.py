"""``driftrec data``: import public data sets, generate synthetic logs, cut the shipped sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from encoders.data.folder import DataFolderError, read_folder, write_folder
from encoders.data.summary import DataImportError, ImportReport
from streams.cli.options import make_settings

_OUT = click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Data folder to write (items.jsonl, events.jsonl); created if missing.",
)
_REPORT = click.option(
    "--report-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the import report (counts, drops per reason) as JSON here.",
)


def _finish(report: ImportReport, out: Path, report_json: Path | None) -> None:
    for line in report.lines():
        click.echo(line)
    click.echo(f"wrote {out}")
    if report_json is not None:
        report_json.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")


@click.group()
def data() -> None:
    """Data folders: import public data sets, synthesise logs, derive the shipped sample."""


@data.group(name="import")
def import_() -> None:
    """Convert a public data set into a data folder (items.jsonl, events.jsonl)."""


@import_.command(name="online-retail")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_OUT
@_REPORT
def online_retail(file: Path, out: Path, report_json: Path | None) -> None:
    """Import the UCI Online Retail CSV (.csv or .csv.gz): one purchase event per kept line."""
    from encoders.data.online_retail import import_online_retail

    try:
        items, events, report = import_online_retail(file)
    except DataImportError as exc:
        raise click.ClickException(str(exc)) from exc
    write_folder(out, items, events)
    _finish(report, out, report_json)


@import_.command(name="movielens")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_OUT
@_REPORT
def movielens(folder: Path, out: Path, report_json: Path | None) -> None:
    """Import an unpacked MovieLens folder (100K, 1M or latest/25M layout): one rate event per
    rating, item text from title, year and genres."""
    from encoders.data.movielens import import_movielens

    try:
        items, events, report = import_movielens(folder, make_settings().times)
    except DataImportError as exc:
        raise click.ClickException(str(exc)) from exc
    write_folder(out, items, events)
    _finish(report, out, report_json)


@data.command()
@_OUT
@click.option(
    "--generator",
    type=click.Choice(["topics", "words"]),
    default="topics",
    show_default=True,
    help="topics: named topics, Zipf popularity, geometric segments (encoders.data.synth); "
    "words: pseudo-word topics, uneven catalog, heavy-tailed gaps and segments "
    "(encoders.data.synthwords).",
)
@click.option("--seed", type=int, default=0, help="Random seed: same seed, same files.")
@click.option(
    "--item-seed",
    type=int,
    default=None,
    help="topics only: draw the catalog of --seed N=this instead (a held-out log over the same "
    "items).",
)
@click.option(
    "--users", type=int, default=None, help="Users, bots included [topics 300, words 400]."
)
@click.option("--items", type=int, default=None, help="Items [topics 600, words 3000].")
@click.option(
    "--topics", type=int, default=None, help="Interest topics [topics 8 (2-12), words 20]."
)
@click.option("--min-events", type=int, default=None, help="Fewest events of a user [30, 15].")
@click.option("--max-events", type=int, default=None, help="Most events of a user [90, 200].")
@click.option(
    "--mean-segment",
    type=float,
    default=None,
    help="topics only: mean events between switches [15].",
)
@click.option(
    "--min-segment", type=int, default=None, help="Fewest events between switches [6, 4]."
)
@click.option(
    "--noise-rate", type=float, default=None, help="Share of off-topic noise clicks [0.08, 0.15]."
)
@click.option(
    "--search-rate", type=float, default=None, help="Share of text-only searches [0.03, 0.05]."
)
@click.option("--bot-fraction", type=float, default=None, help="Share of bot users [0.04, 0.03].")
@click.option(
    "--image-dim", type=int, default=None, help="topics only: image-like vector size, 0: none [16]."
)
def synth(out: Path, generator: str, seed: int, item_seed: int | None, **shape: Any) -> None:
    """Generate a synthetic log whose users switch topics at known moments (truth.json).

    Options left unset take the chosen generator's defaults (in brackets: topics, words)."""
    from encoders.data.synth import SynthData, SynthSpec, generate
    from encoders.data.synthwords import WordsSpec, generate_words

    given = {k: v for k, v in shape.items() if v is not None}
    synth_data: SynthData
    try:
        if generator == "topics":
            topics_spec = SynthSpec(**given)
            users = topics_spec.users
            synth_data = generate(topics_spec, seed, item_seed)
        else:
            wrong = sorted(set(given) - set(WordsSpec.__dataclass_fields__))
            if item_seed is not None:
                wrong.append("item_seed")
            if wrong:
                names = ", ".join("--" + w.replace("_", "-") for w in wrong)
                raise ValueError(f"{names}: only for --generator topics")
            words_spec = WordsSpec(**given)
            users = words_spec.users
            synth_data = generate_words(words_spec, seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    synth_data.write(out)
    n_switches = sum(len(s) for s in synth_data.truth["switches"].values())
    click.echo(
        f"synth ({generator}): {len(synth_data.events):,} events, {len(synth_data.items):,} "
        f"items, {users:,} users ({len(synth_data.truth['bots'])} bots), "
        f"{n_switches:,} switches"
    )
    click.echo(f"wrote {out}")


@data.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_OUT
@click.option("--users", type=int, default=200, help="Number of users to keep.")
@click.option("--window-days", type=float, default=60.0, help="Keep the log's last N days.")
@click.option("--min-events", type=int, default=20, help="Fewest events a kept user has.")
@click.option("--max-events", type=int, default=200, help="Most events a kept user has.")
@click.option("--min-baskets", type=int, default=3, help="Fewest distinct timestamps per user.")
@click.option("--keep-context", is_flag=True, help="Keep per-event context maps.")
def sample(
    source: Path,
    out: Path,
    users: int,
    window_days: float,
    min_events: int,
    max_events: int,
    min_baskets: int,
    keep_context: bool,
) -> None:
    """Cut a small deterministic sample of the data folder SOURCE (users picked by id hash).

    The shipped sample is `driftrec data import online-retail ... --out FULL` then
    `driftrec data sample FULL --out encoders/samples/online_retail` with the defaults.
    """
    from encoders.data.sample import SampleSpec, derive_sample

    try:
        spec = SampleSpec(
            users=users,
            window_days=window_days,
            min_events=min_events,
            max_events=max_events,
            min_baskets=min_baskets,
            drop_context=not keep_context,
        )
        folder = read_folder(source, make_settings().times)
        items, events = derive_sample(folder.items, folder.events, spec)
    except (ValueError, DataFolderError, DataImportError) as exc:
        raise click.ClickException(str(exc)) from exc
    write_folder(out, items, events)
    n_users = len({e.user_id for e in events})
    click.echo(f"sample: {len(events):,} events, {len(items):,} items, {n_users:,} users")
    click.echo(f"wrote {out}")


@data.command(name="sample-path")
def sample_path_cmd() -> None:
    """Print the folder of the shipped Online Retail sample."""
    from encoders.samples import sample_path

    click.echo(str(sample_path()))
