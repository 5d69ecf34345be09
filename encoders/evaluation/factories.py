"""How ``driftrec eval`` builds each named model and the text encoder the baselines share.

Trained models come from a checkpoint when one is found — driftrec from ``--model``, any of
driftrec / gru4rec / sasrec from ``<checkpoints>/<name>/`` — and are otherwise trained here, by the
same trainer on the same split's training part (``train_missing``; its time is reported). The
text baselines use the *same* text encoder as the driftrec model being evaluated, so a comparison
never mixes language models by accident.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from encoders.baselines import BASELINES, BaselineConfig
from encoders.baselines.gru4rec import GRU4Rec
from encoders.baselines.sasrec import SASRec
from encoders.checkpoint import META_FILE, load_checkpoint
from encoders.evaluation.base import EvaluationError, StreamModel, TextEncodeFn
from encoders.evaluation.runner import EvalContext, ModelFactory, baseline_factories
from encoders.evaluation.seqmodels import WindowStream
from encoders.serving import ServingModel
from encoders.textcache import TextVectorCache
from encoders.textenc import TextEncoder
from encoders.training.loop import TrainConfig, train_model

SERVING_KEY = "serving"


def checkpoint_dir(ctx: EvalContext, name: str) -> Path | None:
    """The checkpoint folder for model ``name``, or None when there is none."""
    if name == "driftrec" and ctx.model_dir is not None:
        return ctx.model_dir
    root = ctx.options.checkpoints
    if root is not None and (root / name / META_FILE).is_file():
        return root / name
    return None


def _text_encoder(ctx: EvalContext) -> TextEncoder:
    opts = ctx.options
    cache = TextVectorCache(opts.cache_dir) if opts.cache_dir is not None else None
    return TextEncoder(opts.text_encoder, device=opts.device, cache=cache)


def _train(ctx: EvalContext, kind: str) -> Any:
    opts = ctx.options
    if not opts.train_missing:
        raise EvaluationError(
            f"{kind}: no checkpoint (give --model or --checkpoints DIR with {kind}/ inside, "
            f"or train one: driftrec train --kind {kind} --data DIR --out DIR)"
        )
    tc = TrainConfig.for_kind(
        kind, device=opts.device, progress=opts.progress, epochs=opts.train_epochs
    )
    encoder = _text_encoder(ctx) if kind == "driftrec" else None
    t0 = time.perf_counter()
    trained = train_model(
        ctx.folder, kind, seed=opts.seed, train_config=tc, split=ctx.split, encoder=encoder
    )
    ctx.extras[f"{kind}.info"] = {
        "source": "trained in eval",
        "train_s": round(time.perf_counter() - t0, 1),
        "best_epoch": trained.metrics.get("best_epoch"),
        "valid_NDCG@10": trained.metrics.get("valid_NDCG@10"),
    }
    if opts.save_checkpoints is not None:
        out = opts.save_checkpoints / f"seed-{opts.seed}" / kind
        ctx.extras[f"{kind}.info"]["saved_to"] = str(out)
        trained.save(out)
    return trained


def serving_model(ctx: EvalContext) -> ServingModel:
    """driftrec as the pipeline serves it: loaded from its checkpoint or trained here, once."""
    if SERVING_KEY not in ctx.extras:
        opts = ctx.options
        path = checkpoint_dir(ctx, "driftrec")
        if path is not None:
            serving = ServingModel.load(
                path, device=opts.device, cache_dir=opts.cache_dir, text_encoder=opts.text_encoder
            )
            ctx.extras["driftrec.info"] = {"source": f"checkpoint {path}"}
        else:
            serving = _train(ctx, "driftrec").to_serving()
        ctx.extras["driftrec.info"]["version"] = serving.version
        # The served hybrid's blend weight (None: no co-occurrence table, the LSTM alone).
        ctx.extras["driftrec.info"]["cooc_weight"] = (
            None if serving.cooc is None else serving.cooc_weight
        )
        ctx.extras[SERVING_KEY] = serving
    out: ServingModel = ctx.extras[SERVING_KEY]
    return out


def default_encoder(ctx: EvalContext) -> TextEncodeFn:
    """driftrec's own text encoder when driftrec is evaluated, else the configured one."""
    if "driftrec" in ctx.options.models:
        return serving_model(ctx).encode_texts
    return _text_encoder(ctx).encode


def _driftrec(ctx: EvalContext) -> StreamModel:
    from encoders.evaluation.driftrec_model import DriftRecStream

    # The repeat bonus only moves history items: the masked protocol removes them (and scores only
    # new-item targets), so one set of scores with the bonus serves both protocols.
    return DriftRecStream(
        serving_model(ctx), ctx.catalog, repeat="unmasked" in ctx.options.protocols
    )


def _sequential(kind: str) -> ModelFactory:
    def build(ctx: EvalContext) -> StreamModel:
        path = checkpoint_dir(ctx, kind)
        if path is not None:
            ckpt = load_checkpoint(path)
            if ckpt.kind != kind:
                raise EvaluationError(f"{path} holds a {ckpt.kind!r} model, expected {kind!r}")
            config = BaselineConfig.from_json(ckpt.config)
            net: GRU4Rec | SASRec = GRU4Rec(config) if kind == "gru4rec" else SASRec(config)
            net.load_state_dict(ckpt.state)
            ids = ckpt.item_ids
            ctx.extras[f"{kind}.info"] = {"source": f"checkpoint {path}", "version": ckpt.version}
        else:
            trained = _train(ctx, kind)
            inner = trained.net.inner()
            assert isinstance(inner, GRU4Rec | SASRec) and isinstance(
                trained.config, BaselineConfig
            )
            net, config, ids = inner, trained.config, trained.catalog.ids
        model = WindowStream(net, config, ids, ctx.catalog)
        if model.unknown_items:
            ctx.extras[f"{kind}.info"]["unknown_items"] = model.unknown_items
        return model

    return build


def default_factories() -> dict[str, ModelFactory]:
    """Every model ``driftrec eval`` knows, by name."""
    out = baseline_factories()
    for kind in BASELINES:
        out[kind] = _sequential(kind)
    out["driftrec"] = _driftrec
    return out
