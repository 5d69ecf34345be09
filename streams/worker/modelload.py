"""The model a worker starts with: ``DRIFTREC_MODEL_DIR`` (or the untrained model), or the
function ``DRIFTREC_MODEL_LOADER`` names (tests load faulty models that way)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import cast

import torch

from encoders.serving import ServingModel
from streams.errors import StreamsError
from streams.settings import Settings

log = logging.getLogger(__name__)
ModelLoader = Callable[[Settings], ServingModel]


def load_model(settings: Settings) -> ServingModel:
    """The serving model the settings name (an untrained one, with a warning, when none)."""
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    # Process-wide; set before the model exists so every later model call uses it.
    torch.set_num_threads(settings.torch_threads)
    return ServingModel.load(
        settings.model_dir,
        device=settings.device,
        cache_dir=settings.cache_dir,
        text_encoder=settings.text_encoder,
        text_memory=settings.text_memory_cache,
    )


def resolve_loader(settings: Settings) -> ModelLoader:
    """The model loader ``DRIFTREC_MODEL_LOADER`` names (``module:function``), else
    :func:`load_model`."""
    if not settings.model_loader:
        return load_model
    module_name, _, name = settings.model_loader.partition(":")
    try:
        loader = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise StreamsError(
            f"DRIFTREC_MODEL_LOADER={settings.model_loader!r} names no function ({exc}); "
            "expected module:function"
        ) from exc
    if not callable(loader):
        raise StreamsError(f"DRIFTREC_MODEL_LOADER={settings.model_loader!r} is not callable")
    return cast(ModelLoader, loader)
