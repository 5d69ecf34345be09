"""How ``driftrec eval`` builds each named model and the text encoder the baselines share.

The text baselines use the *same* text encoder as the driftrec model being evaluated (the one its
checkpoint names), so a comparison never mixes language models by accident.
"""

from __future__ import annotations

from typing import Any

from encoders.evaluation.base import EvaluationError, StreamModel, TextEncodeFn
from encoders.evaluation.runner import EvalContext, ModelFactory, baseline_factories
from encoders.serving import ServingModel

SERVING_KEY = "serving"


def serving_model(ctx: EvalContext) -> ServingModel:
    """The driftrec model of ``ctx.model_dir`` (None: an untrained model), loaded once."""
    if SERVING_KEY not in ctx.extras:
        opts = ctx.options
        ctx.extras[SERVING_KEY] = ServingModel.load(
            ctx.model_dir,
            device=opts.device,
            cache_dir=opts.cache_dir,
            text_encoder=opts.text_encoder,
        )
    serving: ServingModel = ctx.extras[SERVING_KEY]
    return serving


def default_encoder(ctx: EvalContext) -> TextEncodeFn:
    """driftrec's own text encoder when driftrec is evaluated, else the configured one."""
    if "driftrec" in ctx.options.models:
        return serving_model(ctx).encode_texts
    from encoders.textcache import TextVectorCache
    from encoders.textenc import TextEncoder

    opts = ctx.options
    cache = TextVectorCache(opts.cache_dir) if opts.cache_dir is not None else None
    return TextEncoder(opts.text_encoder, device=opts.device, cache=cache).encode


def _driftrec(ctx: EvalContext) -> StreamModel:
    from encoders.evaluation.driftrec_model import DriftRecStream

    serving = serving_model(ctx)
    info: dict[str, Any] = {"version": serving.version}
    if ctx.model_dir is None:
        info["warning"] = "untrained model (no --model given)"
    ctx.extras["driftrec.info"] = info
    return DriftRecStream(serving, ctx.catalog)


def _not_yet(name: str) -> ModelFactory:
    def build(ctx: EvalContext) -> StreamModel:
        raise EvaluationError(f"{name}: no checkpoint support yet")

    return build


def default_factories() -> dict[str, ModelFactory]:
    """Every model ``driftrec eval`` knows, by name."""
    out = baseline_factories()
    out["driftrec"] = _driftrec
    out["gru4rec"] = _not_yet("gru4rec")
    out["sasrec"] = _not_yet("sasrec")
    return out
