"""``driftrec train``: self-supervised training of the interest model or a baseline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streams.cli.options import (
    data_dir_option,
    device_option,
    kafka_options,
    make_settings,
    no_progress_option,
    seed_option,
    split_file_option,
    text_encoder_option,
)


@click.command(name="train")
@data_dir_option("Data folder (items.jsonl, events.jsonl); or --from-kafka.")
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Model folder to write (model.safetensors + checkpoint.json); with --from-kafka the "
    "model goes to the registry's store instead.",
)
@click.option(
    "--from-kafka",
    is_flag=True,
    help="Build the data set from the behaviour and items topics (streams.trainer.logdata) and "
    "register the model as challenger with its holdout metrics (see `driftrec trainer`).",
)
@click.option("--since", default="7d", help="With --from-kafka: the log window, e.g. 12h, 7d.")
@click.option(
    "--kind",
    type=click.Choice(["driftrec", "gru4rec", "sasrec"]),
    default="driftrec",
    help="What to train: the driftrec interest model or an ID-based baseline.",
)
@click.option(
    "--epochs",
    type=int,
    default=None,
    help="Most epochs; early stopping usually ends sooner [driftrec 15, baselines 300].",
)
@seed_option("Seed: same seed, data and device, same model.")
@click.option(
    "--batch-size",
    type=int,
    default=None,
    help="Per step: driftrec user windows [16]; baselines prefix samples [256].",
)
@click.option(
    "--lr", type=float, default=None, help="driftrec: peak AdamW rate; baselines: Adam [1e-3]."
)
@click.option(
    "--patience",
    type=int,
    default=None,
    help="Epochs without a better valid NDCG@10 [driftrec 5, baselines 10 as RecBole].",
)
@device_option
@text_encoder_option(
    "Local folder or Hugging Face id of the text model; default: the packaged MiniLM.",
    envvar=True,
)
@split_file_option('JSON {user_id: {"valid": item_id, "test": item_id}} overriding leave-last-out.')
@click.option(
    "--no-item-ids", is_flag=True, help="driftrec: content-only item tower (no ID table)."
)
@click.option(
    "--cooc-neighbours",
    type=click.IntRange(min=0),
    default=None,
    help="driftrec: co-occurrence neighbours per item for the served hybrid, its blend weight "
    "chosen on validation (0: no table, the interest model alone) [50].",
)
@no_progress_option("No progress bars (logs and CI).")
@kafka_options
def train_cmd(
    data_dir: Path,
    out_dir: Path,
    kind: str,
    epochs: int | None,
    seed: int,
    batch_size: int | None,
    lr: float | None,
    patience: int | None,
    device: str,
    text_encoder: str | None,
    split_file: Path | None,
    no_item_ids: bool,
    cooc_neighbours: int | None,
    no_progress: bool,
    bootstrap_servers: str,
    kafka_timeout_s: float,
    from_kafka: bool = False,
    since: str = "7d",
) -> None:
    """Train on DATA's leave-last-out training part; report valid and test metrics; save OUT."""
    if from_kafka:  # the learning loop's path (streams.cli.trainer), registered, not saved to OUT
        from streams.cli.trainer import RoundSpec
        from streams.cli.trainer import from_kafka as train_from_log
        from streams.trainer.logdata import parse_duration

        if kind != "driftrec" or data_dir is not None or split_file is not None:
            raise click.UsageError(
                "--from-kafka trains driftrec from the log: no --data/--split-file"
            )
        try:
            since_s = parse_duration(since)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from exc
        train_from_log(
            since_s,
            RoundSpec(epochs or 15, seed, device, progress=not no_progress),
            bootstrap_servers=bootstrap_servers,
            kafka_timeout_s=kafka_timeout_s,
        )
        return
    if data_dir is None or out_dir is None:
        raise click.UsageError("--data and --out are required (or use --from-kafka)")
    from encoders.data.folder import DataFolderError, read_folder
    from encoders.data.split import SplitError, leave_last_out, read_split_file
    from encoders.textcache import TextVectorCache
    from encoders.textenc import TextEncoder, TextEncoderError
    from encoders.training.loop import TrainConfig, evaluate_split, train_model

    settings = make_settings()
    try:
        data = read_folder(data_dir, settings.times)
        split = leave_last_out(data.events, read_split_file(split_file) if split_file else None)
        tc = TrainConfig.for_kind(
            kind,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            patience=patience,
            item_ids=not no_item_ids,
            cooc_neighbours=cooc_neighbours,
            device=device,
            progress=not no_progress,
        )
        encoder = None
        if kind == "driftrec":
            cache = TextVectorCache(settings.cache_dir)
            encoder = TextEncoder(text_encoder, device=tc.device, cache=cache)
    except (DataFolderError, SplitError, TextEncoderError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"training {kind} on {len(data.items)} items, {len(data.events)} events, "
        f"{len(split.users)} evaluated users ({split.skipped_users} skipped)",
        err=True,
    )
    trained = train_model(data, kind, seed=seed, train_config=tc, split=split, encoder=encoder)
    test = evaluate_split(trained, split, "test") if split.users else {}
    version = trained.save(out_dir, extra_metrics={f"test_{k}": v for k, v in test.items()})
    _report(kind, version, trained.metrics, test, trained.train_seconds, out_dir)
    if trained.cooc is not None:
        valid = trained.cooc.valid[str(trained.cooc.weight)]
        click.echo(
            f"served as a hybrid with item co-occurrence ({len(trained.cooc.table.indices)} "
            f"neighbour pairs): weight {trained.cooc.weight} chosen on valid NDCG@10 (masked "
            f"{valid['masked']:.4f}, unmasked {valid['unmasked']:.4f}; the table above is the "
            "interest model alone; `driftrec eval` scores the hybrid)"
        )


def _report(
    kind: str,
    version: str,
    valid: dict[str, float],
    test: dict[str, float],
    seconds: float,
    out_dir: Path,
) -> None:
    keys = [f"{m}@{k}" for k in (5, 10, 20) for m in ("HR", "NDCG", "MRR")]
    click.echo(f"\n{kind} {version}: {seconds:.1f}s, best epoch {int(valid.get('best_epoch', 0))}")
    click.echo(f"{'metric':<10}{'valid':>10}{'test':>10}")
    for key in keys:
        v, t = valid.get(f"valid_{key}"), test.get(key)
        click.echo(
            f"{key:<10}{'' if v is None else f'{v:.4f}':>10}{'' if t is None else f'{t:.4f}':>10}"
        )
    click.echo(f"saved to {out_dir} ({json.dumps({'version': version})})")
