"""Checkpoints: a folder with safetensors weights and JSON metadata. Nothing is ever unpickled.

Layout of ``MODEL_DIR``:

* ``model.safetensors`` — the weights (tensors only, by construction);
* ``checkpoint.json`` — ``format``; ``kind`` (driftrec / gru4rec / sasrec); ``version`` (content
  id ``m-<sha256[:12]>`` of weights + config); ``config`` (the model's frozen dataclass as JSON);
  ``text_encoder`` (``id`` and ``source``; source None = the packaged default); ``data``
  (fingerprint and sizes of the training data); ``metrics`` (validation metrics); ``item_ids``
  (the catalog order of the ID-embedding rows); ``driftrec`` (the package version that wrote it);
  ``created``; optionally ``cooc`` (below);
* ``cooc.safetensors`` (optional) — the co-occurrence neighbour table of the served hybrid
  (:mod:`profiles.cooc`); ``checkpoint.json``'s ``cooc`` holds its ``sha256`` (of the table's
  canonical content, :meth:`~profiles.cooc.CoocTable.digest`), the blend
  ``weight`` chosen on validation and how it was chosen. The version covers both, so adding a
  table gives a new version. A folder without them (older models) serves the interest model alone.
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

from profiles.cooc import CoocTable, CoocTableError

FORMAT = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "checkpoint.json"
COOC_FILE = "cooc.safetensors"


class CheckpointError(ValueError):
    """A model folder is missing, incomplete, of an unknown format or does not match its config."""


def _package_version() -> str:
    try:
        return version("driftrec")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def model_version(weights: bytes, config_json: str, cooc: dict[str, Any] | None = None) -> str:
    """The content id of a model: the same weights, config (and co-occurrence part, whose
    ``sha256`` names the table's bytes) always give the same version."""
    h = hashlib.sha256(weights)
    h.update(config_json.encode())
    if cooc:
        h.update(json.dumps(cooc, sort_keys=True).encode())
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
    #: The served hybrid's neighbour table and its ``checkpoint.json`` entry (None: none).
    cooc: CoocTable | None = None
    cooc_meta: dict[str, Any] = field(default_factory=dict)


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
    cooc: CoocTable | None = None,
    cooc_meta: dict[str, Any] | None = None,
) -> str:
    """Write a checkpoint folder (atomically per file) and return its version string; with
    ``cooc`` also the neighbour table (``cooc_meta``: the blend weight and how it was chosen)."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    tmp_weights = model_dir / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp_weights))
    config_json = json.dumps(config, sort_keys=True)
    cooc_entry: dict[str, Any] | None = None
    tmp_cooc = model_dir / (COOC_FILE + ".tmp")
    if cooc is not None:
        cooc.save(tmp_cooc)
        cooc_entry = {**(cooc_meta or {}), "file": COOC_FILE, "sha256": cooc.digest()}
    ver = model_version(tmp_weights.read_bytes(), config_json, cooc_entry)
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
    if cooc_entry is not None:
        meta["cooc"] = cooc_entry
    tmp_meta = model_dir / (META_FILE + ".tmp")
    tmp_meta.write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp_weights, model_dir / WEIGHTS_FILE)
    if cooc_entry is not None:
        os.replace(tmp_cooc, model_dir / COOC_FILE)
    elif (model_dir / COOC_FILE).exists():
        (model_dir / COOC_FILE).unlink()  # a table of a model written here before
    os.replace(tmp_meta, model_dir / META_FILE)
    return ver


def add_cooc(model_dir: Path, table: CoocTable, cooc_meta: dict[str, Any]) -> str:
    """Give an existing checkpoint folder a co-occurrence table (replacing one it had); the
    weights are unchanged, the version is recomputed. Returns the new version."""
    ckpt = load_checkpoint(model_dir)
    return save_checkpoint(
        model_dir,
        kind=ckpt.kind,
        config=ckpt.config,
        state=ckpt.state,
        text_encoder=ckpt.text_encoder,
        data=ckpt.data,
        metrics=ckpt.metrics,
        item_ids=ckpt.item_ids,
        cooc=table,
        cooc_meta=cooc_meta,
    )


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
    cooc_meta = meta.get("cooc") or None
    expected = model_version(raw, json.dumps(meta["config"], sort_keys=True), cooc_meta)
    if meta.get("version") != expected:
        raise CheckpointError(
            f"{model_dir}: weights do not match checkpoint.json (version {meta.get('version')!r}, "
            f"content says {expected!r}); the folder was modified or half-copied"
        )
    try:
        state = load_file(str(weights), device=map_location)
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{weights}: unreadable safetensors file ({exc})") from exc
    table = None if cooc_meta is None else _load_cooc(model_dir, cooc_meta)
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
        cooc=table,
        cooc_meta=dict(cooc_meta or {}),
    )


def _load_cooc(model_dir: Path, cooc_meta: dict[str, Any]) -> CoocTable:
    path = model_dir / str(cooc_meta.get("file", COOC_FILE))
    if path.parent != model_dir or not path.is_file():
        raise CheckpointError(
            f"{model_dir}: checkpoint.json names a co-occurrence table {path} "
            "that is not in the folder"
        )
    try:
        table = CoocTable.load(path)
    except CoocTableError as exc:
        raise CheckpointError(str(exc)) from exc
    if table.digest() != cooc_meta.get("sha256"):
        raise CheckpointError(
            f"{path}: does not match checkpoint.json (content sha256 differs); the "
            "folder was modified or half-copied"
        )
    return table
