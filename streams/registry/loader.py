"""Loading a registered model, sharing a text encoder that is already loaded when it is the same.

A language model is the heavy part of a serving model (hundreds of MB, seconds to load); a retrained
interest model is a few MB of LSTM and tower weights trained on the same encoder's vectors. So a
swap (and the trainer's champion-vs-candidate holdout) builds the new :class:`ServingModel` around
the encoder in memory whenever the checkpoint names the same encoder id.
"""

from __future__ import annotations

from pathlib import Path

from encoders.checkpoint import load_checkpoint
from encoders.config import ModelConfig
from encoders.model import DriftRecModel
from encoders.serving import ServingModel
from encoders.textenc import TextEncoder
from streams.settings import Settings


def load_serving(
    settings: Settings, path: Path, encoder: TextEncoder | None = None
) -> ServingModel:
    """The model in ``path``; built around ``encoder`` when the checkpoint was trained with it
    (or when DRIFTREC_TEXT_ENCODER forces one encoder for every model)."""
    ckpt = load_checkpoint(path)
    same = encoder is not None and (
        settings.text_encoder is not None or ckpt.text_encoder.get("id") == encoder.encoder_id
    )
    if encoder is None or not same or ckpt.kind != "driftrec":
        return ServingModel.load(
            path,
            device=settings.device,
            cache_dir=settings.cache_dir,
            text_encoder=settings.text_encoder,
        )
    net = DriftRecModel(ModelConfig.from_json(ckpt.config))
    net.load_state_dict(ckpt.state)
    return ServingModel(
        net, encoder, version=ckpt.version, item_ids=ckpt.item_ids, device=encoder.device
    )
