"""The served hybrid's item-to-item part: a compact co-occurrence neighbour table, the sparse
scores it gives a user's recent items, and the blend with the interest model's scores.

A list's scores are ``standardise(model scores over the catalog) + w * standardise(c)``, where
``c`` is the co-occurrence row of the user's last ``n_last`` item events (newest weighted
``decay**0``, next ``decay**1``, ...; an item the table does not know adds nothing) and
``standardise`` maps a row to zero mean and unit deviation over the catalog (a constant row to
zeros), so ``w`` does not depend on either part's scale. ``c`` is sparse (at most ``n_last`` x
``M`` items), so the blend costs O(N) on top of the O(N) scoring, and O(1) in history length.

:func:`blend_row` is the one implementation: the worker's retrieval
(:meth:`profiles.retrieval.ItemIndex.top_k`) and the offline evaluation of driftrec
(``encoders.evaluation.driftrec_model``) both call it through
:func:`profiles.retrieval.adjust_row`.

The table is built at training time (``encoders.cooccurrence``) and stored next to the weights
(``cooc.safetensors``, tensors plus a string header: nothing is unpickled).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file, save_file
from safetensors.numpy import save as save_bytes

F32 = npt.NDArray[np.float32]


class CoocTableError(ValueError):
    """A co-occurrence table file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class CoocBlend:
    """What one query adds: ``weight`` x the standardised sparse co-occurrence row ``scores``."""

    weight: float
    scores: Mapping[str, float]


@dataclass(frozen=True, eq=False)
class CoocTable:
    """Top-``M`` neighbours per item in CSR form: row ``i`` (item ``item_ids[i]``) has neighbours
    ``indices[indptr[i]:indptr[i+1]]`` (rows of the same table) with ``weights`` (> 0)."""

    item_ids: tuple[str, ...]
    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    weights: F32
    n_last: int = 5
    decay: float = 0.7
    params: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if self.indptr.shape != (n + 1,) or self.indices.shape != self.weights.shape:
            raise CoocTableError(
                f"co-occurrence table shapes do not fit: {n} items, indptr "
                f"{self.indptr.shape}, indices {self.indices.shape}, weights {self.weights.shape}"
            )
        if n and (self.indptr[0] != 0 or self.indptr[-1] != len(self.indices)):
            raise CoocTableError("co-occurrence table: indptr does not span the neighbour list")
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= n):
            raise CoocTableError("co-occurrence table: a neighbour index is out of range")
        if self.n_last < 1 or not 0 < self.decay <= 1:
            raise CoocTableError(
                f"need n_last >= 1 and 0 < decay <= 1, got {self.n_last}, {self.decay}"
            )
        object.__setattr__(self, "_row", {item: i for i, item in enumerate(self.item_ids)})

    def __len__(self) -> int:
        return len(self.item_ids)

    def neighbours(self, item_id: str) -> dict[str, float]:
        """``item_id``'s neighbours and weights (empty when the table does not know it)."""
        row: dict[str, int] = self._row  # type: ignore[attr-defined]
        i = row.get(item_id)
        if i is None:
            return {}
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        return {
            self.item_ids[j]: float(w)
            for j, w in zip(self.indices[a:b].tolist(), self.weights[a:b].tolist(), strict=True)
        }

    def scores(self, recent: Sequence[str | None]) -> dict[str, float]:
        """The sparse co-occurrence row of ``recent`` (item ids of the user's latest events,
        newest first; ``None`` = an item-less event, skipped): ``sum_k decay**k * sim(item_k, j)``
        over the first ``n_last`` items."""
        rows: dict[str, int] = self._row  # type: ignore[attr-defined]
        items = [i for i in recent if i is not None][: self.n_last]
        cols: list[npt.NDArray[np.int32]] = []
        vals: list[npt.NDArray[np.float64]] = []
        for k, item in enumerate(items):
            i = rows.get(item)
            if i is None:
                continue
            a, b = int(self.indptr[i]), int(self.indptr[i + 1])
            cols.append(self.indices[a:b])
            vals.append(self.decay**k * self.weights[a:b].astype(np.float64))
        if not cols:
            return {}
        uniq, inv = np.unique(np.concatenate(cols), return_inverse=True)
        total = np.bincount(inv, weights=np.concatenate(vals))
        return {self.item_ids[j]: float(v) for j, v in zip(uniq.tolist(), total, strict=True)}

    def _tensors(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        tensors: dict[str, np.ndarray] = {
            "indptr": self.indptr,
            "indices": self.indices,
            "weights": self.weights,
        }
        header = {
            "item_ids": json.dumps(list(self.item_ids)),
            "n_last": str(self.n_last),
            "decay": repr(self.decay),
            "params": json.dumps(dict(self.params), sort_keys=True),
        }
        return tensors, header

    def to_bytes(self) -> bytes:
        """The file's bytes (the header's key order may vary between calls: compare
        :meth:`digest`, not bytes)."""
        tensors, header = self._tensors()
        return save_bytes(tensors, metadata=header)

    def digest(self) -> str:
        """sha256 of the table's content in a canonical form (equal tables, equal digests)."""
        _, header = self._tensors()
        h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
        for a in (self.indptr, self.indices, self.weights):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def save(self, path: Path) -> None:
        tensors, header = self._tensors()
        save_file(tensors, str(path), metadata=header)

    @classmethod
    def load(cls, path: Path) -> CoocTable:
        from safetensors import safe_open

        try:
            tensors = load_file(str(path))
            with safe_open(str(path), framework="numpy") as f:
                header = f.metadata() or {}
            return cls(
                item_ids=tuple(json.loads(header["item_ids"])),
                indptr=tensors["indptr"].astype(np.int64),
                indices=tensors["indices"].astype(np.int32),
                weights=tensors["weights"].astype(np.float32),
                n_last=int(header["n_last"]),
                decay=float(header["decay"]),
                params=json.loads(header.get("params", "{}")),
            )
        except CoocTableError:
            raise
        except Exception as exc:  # safetensors/json raise their own types for corrupt files
            raise CoocTableError(f"{path}: not a co-occurrence table ({exc})") from exc


def standardise_row(row: np.ndarray) -> F32:
    """``row`` to zero mean and unit standard deviation (a constant row becomes zeros)."""
    x = np.asarray(row, dtype=np.float64)
    centred = x - x.mean()
    std = centred.std()
    out: F32 = (centred / max(float(std), 1e-12)).astype(np.float32)
    return out


def blend_row(row: np.ndarray, cols: Sequence[int], vals: Sequence[float], weight: float) -> F32:
    """``standardise(row) + weight * standardise(c)`` with ``c`` zero except ``c[cols] = vals``
    (``cols`` distinct), computed without building ``c``: O(len(row)) for the base, O(len(cols))
    for the sparse part."""
    out = standardise_row(row)
    n = len(out)
    v = np.asarray(vals, dtype=np.float64)
    if weight == 0 or n == 0 or v.size == 0:
        return out
    mean = float(v.sum()) / n
    var = float((v * v).sum()) / n - mean * mean
    if var <= 1e-24:  # a constant row standardises to zeros
        return out
    std = float(np.sqrt(var))
    base = out.astype(np.float64) - weight * mean / std
    base[np.asarray(cols, dtype=np.int64)] += weight * v / std
    result: F32 = base.astype(np.float32)
    return result
