"""Checkpoints: a folder with safetensors weights and JSON metadata. Nothing is ever unpickled.

Layout of ``MODEL_DIR``:

* ``model.safetensors`` — the weights (tensors only, by construction);
* ``checkpoint.json`` — ``format``; ``kind`` (driftrec / gru4rec / sasrec); ``version`` (content
  id ``m-<sha256[:12]>`` of weights + config); ``config`` (the model's frozen dataclass as JSON);
  ``text_encoder`` (``id`` and ``source``; source None = the packaged default); ``data``
  (fingerprint and sizes of the training data); ``metrics`` (validation metrics); ``item_ids``
  (the catalog order of the ID-embedding rows); ``driftrec`` (the package version that wrote it);
  ``created``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

FORMAT = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "checkpoint.json"


class CheckpointError(ValueError):
    """A model folder is missing, incomplete, of an unknown format or does not match its config."""


def _package_version() -> str:
    try:
        return version("driftrec")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def model_version(weights: bytes, config_json: str) -> str:
    """The content id of a model: the same weights and config always give the same version."""
    h = hashlib.sha256(weights)
    h.update(config_json.encode())
    return "m-" + h.hexdigest()[:12]


@dataclass(frozen=True)
class Checkpoint:
    kind: str
    version: str
    config: dict[str, Any]
    state: dict[str, torch.Tensor]
    text_encoder: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    item_ids: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    model_dir: Path,
    *,
    kind: str,
    config: dict[str, Any],
    state: dict[str, torch.Tensor],
    text_encoder: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    item_ids: list[str] | None = None,
) -> str:
    """Write a checkpoint folder (atomically per file) and return its version string."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    tmp_weights = model_dir / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp_weights))
    config_json = json.dumps(config, sort_keys=True)
    ver = model_version(tmp_weights.read_bytes(), config_json)
    meta = {
        "format": FORMAT,
        "kind": kind,
        "version": ver,
        "config": config,
        "text_encoder": text_encoder or {},
        "data": data or {},
        "metrics": metrics or {},
        "item_ids": item_ids or [],
        "driftrec": _package_version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp_meta = model_dir / (META_FILE + ".tmp")
    tmp_meta.write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp_weights, model_dir / WEIGHTS_FILE)
    os.replace(tmp_meta, model_dir / META_FILE)
    return ver


def load_checkpoint(model_dir: Path, *, map_location: str = "cpu") -> Checkpoint:
    """Read a checkpoint folder with safetensors (no pickle) and check its version."""
    model_dir = Path(model_dir)
    weights, meta_path = model_dir / WEIGHTS_FILE, model_dir / META_FILE
    if not weights.is_file() or not meta_path.is_file():
        raise CheckpointError(
            f"{model_dir} is not a driftrec model folder (needs {WEIGHTS_FILE} and {META_FILE}; "
            "create one with `driftrec train --data DIR --out MODEL_DIR`)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{meta_path}: not JSON ({exc.msg})") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT}")
    raw = weights.read_bytes()
    expected = model_version(raw, json.dumps(meta["config"], sort_keys=True))
    if meta.get("version") != expected:
        raise CheckpointError(
            f"{model_dir}: weights do not match checkpoint.json (version {meta.get('version')!r}, "
            f"content says {expected!r}); the folder was modified or half-copied"
        )
    try:
        state = load_file(str(weights), device=map_location)
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{weights}: unreadable safetensors file ({exc})") from exc
    return Checkpoint(
        kind=str(meta["kind"]),
        version=str(meta["version"]),
        config=dict(meta["config"]),
        state=state,
        text_encoder=dict(meta.get("text_encoder", {})),
        data=dict(meta.get("data", {})),
        metrics=dict(meta.get("metrics", {})),
        item_ids=list(meta.get("item_ids", [])),
        meta=meta,
    )
