"""``driftrec eval``: offline leave-last-out ranking and streaming replay for every model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from encoders.evaluation.runner import ALL_MODELS
from streams.cli.options import (
    data_dir_option,
    device_option,
    file_out_option,
    make_settings,
    model_dir_option,
    seed_option,
    split_file_option,
    text_encoder_option,
)


def _int_list(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from exc
    if not out or min(out) < 1:
        raise click.BadParameter(f"K values must be positive integers, got {value!r}")
    return out


def _model_list(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown or not names:
        raise click.BadParameter(f"unknown model(s) {unknown}; choose from {','.join(ALL_MODELS)}")
    return names


def _seed_list(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        if "," not in value:
            n = int(value)
            if n < 1:
                raise ValueError
            return tuple(range(n))
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise click.BadParameter(
            f"expected a count N (seeds 0..N-1) or comma-separated seeds, got {value!r}"
        ) from exc
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise click.BadParameter(f"seeds must be distinct non-negative integers, got {value!r}")
    return out


@click.command(name="eval")
@data_dir_option(
    "Data folder (items.jsonl, events.jsonl; truth.json on synthetic data).", required=True
)
@model_dir_option("driftrec checkpoint folder from `driftrec train` (omitted: see --checkpoints).")
@click.option(
    "--checkpoints",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder with driftrec/, gru4rec/, sasrec/ checkpoint folders.",
)
@click.option(
    "--no-train",
    is_flag=True,
    help="Fail on a model without checkpoint instead of training it here on the same split.",
)
@click.option(
    "--train-epochs",
    type=int,
    default=None,
    help="Epochs for models trained here (default: the trainer's, with early stopping).",
)
@seed_option("Seed for models trained here.")
@click.option(
    "--seeds",
    default=None,
    callback=_seed_list,
    help="Train and evaluate gru4rec/sasrec/driftrec once per seed ('0,1,2', or N for 0..N-1; "
    "the other models once) and report mean ± 95 %% t interval per model and metric.",
)
@click.option(
    "--save-checkpoints",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Save every model trained here to DIR/seed-<seed>/<model>/ (usable with --checkpoints).",
)
@file_out_option(
    "--json-out", "json_out", help="Write the result document here (and a PNG chart next to it)."
)
@file_out_option("--chart", help="PNG chart path (default: the --json-out path with .png).")
@click.option(
    "--models",
    default=",".join(ALL_MODELS),
    callback=_model_list,
    help="Comma-separated models to evaluate.",
)
@click.option("--k", "ks", default="5,10,20", callback=_int_list, help="Cut-offs K.")
@split_file_option('JSON {user_id: {"valid": item_id, "test": item_id}} targets.')
@click.option(
    "--protocol",
    type=click.Choice(["masked", "unmasked", "both"]),
    default="both",
    show_default=True,
    help="Offline ranking: history items removed (masked), kept (unmasked, RecBole's), or both "
    "(two tables; the masked one first).",
)
@click.option(
    "--no-mask-history",
    is_flag=True,
    hidden=True,
    help="Deprecated: --protocol unmasked.",
)
@click.option("--no-stream", is_flag=True, help="Skip the streaming replay.")
@click.option(
    "--stream-users",
    type=int,
    default=None,
    help="Replay only the first N users of the log (default: all).",
)
@device_option
@click.option(
    "--cache-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Persistent text-vector cache folder (default: DRIFTREC_TEXT_CACHE_DIR, else "
    "$DRIFTREC_HOME/cache, the folder train and the workers use).",
)
@text_encoder_option(
    "Text encoder folder or id (default: the checkpoint's, else the packaged one)."
)
def eval_cmd(
    data_dir: Path,
    model_dir: Path | None,
    checkpoints: Path | None,
    no_train: bool,
    train_epochs: int | None,
    seed: int,
    seeds: tuple[int, ...] | None,
    save_checkpoints: Path | None,
    json_out: Path | None,
    chart: Path | None,
    models: tuple[str, ...],
    ks: tuple[int, ...],
    split_file: Path | None,
    protocol: str,
    no_mask_history: bool,
    no_stream: bool,
    stream_users: int | None,
    device: str,
    cache_dir: Path | None,
    text_encoder: str | None,
) -> None:
    """Evaluate models on DATA: full-ranking HR/NDCG/MRR@K on a leave-last-out split, plus a
    streaming replay (next-item hit rate; time-to-adapt on synthetic data)."""
    from encoders.checkpoint import CheckpointError
    from encoders.data.folder import DataFolderError
    from encoders.data.split import SplitError
    from encoders.evaluation.base import EvaluationError
    from encoders.evaluation.factories import default_encoder, default_factories
    from encoders.evaluation.report import render_text, write_chart, write_json
    from encoders.evaluation.runner import EvalOptions, run_evaluation
    from encoders.textenc import TextEncoderError

    if no_mask_history:
        click.echo("--no-mask-history is deprecated: use --protocol unmasked", err=True)
        protocol = "unmasked"
    protocols = ("masked", "unmasked") if protocol == "both" else (protocol,)
    if seeds is not None:
        clash = [o for o, v in (("--model", model_dir), ("--checkpoints", checkpoints)) if v]
        clash += ["--no-train"] if no_train else []
        if clash:
            raise click.UsageError(
                f"--seeds trains every seeded model here: drop {' '.join(clash)}"
            )
    try:
        options = EvalOptions(
            models=models,
            ks=ks,
            protocols=protocols,
            split_file=split_file,
            stream=not no_stream,
            stream_users=stream_users,
            device=device,
            cache_dir=cache_dir or make_settings().cache_dir,
            text_encoder=text_encoder,
            times=make_settings().times,
            checkpoints=checkpoints,
            train_missing=not no_train,
            train_epochs=train_epochs,
            seed=seed,
            save_checkpoints=save_checkpoints,
        )
        if seeds is not None:
            _run_seeds(data_dir, options, seeds, json_out, chart)
            return
        result = run_evaluation(
            data_dir,
            options,
            model_dir=model_dir,
            factories=default_factories(),
            encoder_factory=default_encoder,
            log=lambda msg: click.echo(msg, err=True),
        )
    except (EvaluationError, DataFolderError, SplitError, CheckpointError, TextEncoderError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(render_text(result))
    if json_out is not None:
        write_json(result, json_out)
        click.echo(f"wrote {json_out}")
    png = _chart_path(chart, json_out)
    if png is not None:
        write_chart(result, png)
        click.echo(f"wrote {png}")


def _run_seeds(
    data_dir: Path,
    options: object,
    seeds: tuple[int, ...],
    json_out: Path | None,
    chart: Path | None,
) -> None:
    """``--seeds``: the document is rewritten after every run (an interrupted run keeps the seeds
    that finished, marked incomplete); the chart is drawn at the end."""
    from encoders.evaluation.factories import default_encoder, default_factories
    from encoders.evaluation.report import write_json
    from encoders.evaluation.runner import EvalOptions
    from encoders.evaluation.seedreport import render_seeds_text, write_seeds_chart
    from encoders.evaluation.seeds import run_seeds

    assert isinstance(options, EvalOptions)

    def save(doc: dict[str, Any]) -> None:
        if json_out is not None:
            write_json(doc, json_out)

    doc = run_seeds(
        data_dir,
        options,
        seeds,
        factories=default_factories(),
        encoder_factory=default_encoder,
        log=lambda msg: click.echo(msg, err=True),
        on_update=save,
    )
    click.echo(render_seeds_text(doc))
    if json_out is not None:
        click.echo(f"wrote {json_out}")
    png = _chart_path(chart, json_out)
    if png is not None:
        write_seeds_chart(doc, png)
        click.echo(f"wrote {png}")


def _chart_path(chart: Path | None, json_out: Path | None) -> Path | None:
    """--chart, else the --json-out path with .png, else None (no chart)."""
    return chart or (json_out.with_suffix(".png") if json_out is not None else None)
