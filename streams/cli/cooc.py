"""``driftrec cooc``: give an existing driftrec model the co-occurrence part of the served hybrid.

The table comes from DATA's leave-last-out training events and the blend weight from its
validation targets, by the code ``driftrec train`` runs after training
(:mod:`encoders.training.cooc_fit`); the weights are untouched. Same data, same model, same
table and weight; the model folder gets ``cooc.safetensors`` and a new version.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from streams.cli.options import (
    data_dir_option,
    device_option,
    make_settings,
    split_file_option,
    text_encoder_option,
)


@click.command(name="cooc")
@data_dir_option("Data folder the model was trained on (items.jsonl, events.jsonl).", required=True)
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="driftrec model folder to add the table to (changed in place unless --out).",
)
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the model with its table here instead of changing --model.",
)
@click.option(
    "--neighbours",
    type=click.IntRange(min=1),
    default=50,
    help="Co-occurrence neighbours kept per item.",
)
@device_option
@text_encoder_option("Text model folder or id; default: the one the model was trained with.")
@split_file_option('JSON {user_id: {"valid": item_id, "test": item_id}} overriding leave-last-out.')
def cooc_cmd(
    data_dir: Path,
    model_dir: Path,
    out_dir: Path | None,
    neighbours: int,
    device: str,
    text_encoder: str | None,
    split_file: Path | None,
) -> None:
    """Build MODEL's co-occurrence table from DATA and choose its blend weight on validation."""
    import shutil

    from encoders.checkpoint import CheckpointError, add_cooc
    from encoders.data.folder import DataFolderError, read_folder
    from encoders.data.split import SplitError, leave_last_out, read_split_file
    from encoders.serving import ServingModel
    from encoders.textenc import TextEncoderError
    from encoders.training.cooc_fit import fit_cooc

    settings = make_settings()
    try:
        data = read_folder(data_dir, settings.times)
        split = leave_last_out(data.events, read_split_file(split_file) if split_file else None)
        serving = ServingModel.load(
            model_dir, device=device, cache_dir=settings.cache_dir, text_encoder=text_encoder
        )
    except (DataFolderError, SplitError, CheckpointError, TextEncoderError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not split.users:
        raise click.ClickException(f"{data_dir}: no user has a validation target")
    fit = fit_cooc(serving, data.items, split, top=neighbours, window=settings.recent_window)
    target = model_dir
    if out_dir is not None:
        shutil.copytree(model_dir, out_dir, dirs_exist_ok=True)
        target = out_dir
    version = add_cooc(target, fit.table, fit.meta())
    click.echo(f"{'weight':>8}{'masked':>10}{'unmasked':>10}{'mean':>10}   (valid NDCG@10)")
    for w, row in fit.valid.items():
        mark = "  <- served" if float(w) == fit.weight else ""
        click.echo(
            f"{w:>8}{row['masked']:>10.4f}{row['unmasked']:>10.4f}{row['mean']:>10.4f}{mark}"
        )
    click.echo(
        f"{len(fit.table)} items, {len(fit.table.indices)} neighbour pairs; saved to {target} "
        + json.dumps({"version": version, "weight": fit.weight})
    )
