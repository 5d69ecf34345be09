"""The serving contract: what the streaming pipeline calls, one event per user per step.

.. code-block:: python

    model = ServingModel.load(model_dir, device="auto", cache_dir=Path("cache"))
    items = model.embed_items(records)                  # list[ItemEmbedding]; text cache first
    state = model.initial_state()                       # (S,) float32, S = 2·D
    states, h = model.step(states, events)              # (B, S) + one StepEvent per row
                                                        #   -> (B, S), (B, D)
    states, h = model.step_sequences(states, per_user)  # (B, S) + each user's new events
                                                        #   -> (B, S), (E, D) one LSTM call
    long = model.update_long_term(long, count, h)       # (B, D): running mean or EMA of h
    interest = model.served_interest(h, long, window, window_mask)
                                                        # (B, D); window (B, W, D): item vectors
                                                        #   of the last W events, newest first
                                                        #   (W = model.attention_window; 0: None)
    scores = model.score(interest, item_matrix)         # (B, D) x (N, D) -> (B, N)
    bonus = model.repeat_bonus()                        # (R,) added to an item seen k events
                                                        #   ago, or None
    cooc = model.cooccurrence(recent_item_ids)          # CoocBlend (weight + sparse scores of
                                                        #   the newest-first recent items), or
                                                        #   None: the interest scores alone

* ``model_dir=None`` runs an *untrained* model (seeded, deterministic) and logs a loud warning.
* A checkpoint with a co-occurrence table (``cooc.safetensors``, :mod:`profiles.cooc`) is served
  as a hybrid: each list's scores are ``standardise(interest scores) + w * standardise(item
  co-occurrence scores of the recent items)``, ``w`` chosen on validation at training time
  (``encoders.training.cooc_fit``); ``w = 0`` or no table: the interest model alone.
* ``version`` is the checkpoint's content id (``m-<sha256[:12]>``) or ``untrained-<seed>-<hash>``;
  profiles made under another version must not be mixed with this one.
* Arrays in and out are numpy float32 on the host; the work runs on ``device`` (CUDA when present
  with device="auto"; the language model in fp16 there). Same inputs give the same outputs on CPU.
* Free text of events (queries, comments) is encoded inside :meth:`ServingModel.step` in one batched
  call and not persisted (it is ephemeral and would grow the cache without bound), but kept in the
  bounded in-memory LRU (``text_memory`` entries; the same searches recur); item texts are cached
  persistently under ``cache_dir`` (and in the LRU).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from encoders.checkpoint import CheckpointError, load_checkpoint
from encoders.config import ModelConfig
from encoders.fusion import item_features
from encoders.interest import update_long_term
from encoders.model import DriftRecModel
from encoders.textcache import MemoryTextCache, TextVectorCache
from encoders.textenc import TextEncoder, resolve_device
from profiles.contracts import ItemEmbedding, StepEvent
from profiles.cooc import CoocBlend, CoocTable
from streams.messages.records import ACTIONS, ItemRecord

log = logging.getLogger(__name__)
F32 = npt.NDArray[np.float32]
_ACTION_INDEX = {a: i for i, a in enumerate(ACTIONS)}


def _tensor(a: npt.ArrayLike, dtype: npt.DTypeLike | None = None) -> torch.Tensor:
    """A tensor owning a copy: inputs may be read-only views (np.frombuffer on stored profiles),
    which torch.from_numpy would share and warn about."""
    return torch.from_numpy(np.array(a, dtype=dtype, copy=True))


def _shared(a: F32) -> torch.Tensor:
    """A tensor over ``a``'s memory (writable C-contiguous float32), else over a copy."""
    if a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable:
        return torch.from_numpy(a)
    return _tensor(a, np.float32)


class ServingModel:
    """A loaded interest model plus its text encoder; see the module docstring for the contract."""

    def __init__(
        self,
        net: DriftRecModel,
        encoder: TextEncoder,
        *,
        version: str,
        item_ids: Sequence[str] = (),
        device: torch.device,
        cooc: CoocTable | None = None,
        cooc_weight: float = 0.0,
    ) -> None:
        if encoder.dim != net.config.text_dim:
            raise CheckpointError(
                f"text encoder {encoder.encoder_id} gives {encoder.dim}-d vectors, the model "
                f"was trained on {net.config.text_dim}-d ones: pass the encoder it was trained with"
            )
        self.net = net.eval().to(device)
        self.encoder = encoder
        self.config: ModelConfig = net.config
        self.version = version
        self.device = device
        self.dim = net.config.dim
        self.state_dim = net.config.state_dim
        self.feature_dim = net.config.feature_dim
        self.attention_window = net.config.attention_window
        self._id_index = {item_id: i for i, item_id in enumerate(item_ids)}
        self.cooc: CoocTable | None = None
        self.cooc_weight = 0.0
        self.set_cooc(cooc, cooc_weight)

    def set_cooc(self, table: CoocTable | None, weight: float) -> None:
        """Serve with ``table`` blended in at ``weight`` (>= 0; None or 0: the model alone)."""
        if not weight >= 0:
            raise ValueError(f"the co-occurrence weight must be >= 0, got {weight!r}")
        self.cooc, self.cooc_weight = table, float(weight)

    def cooccurrence(
        self, recent: Sequence[str | None], weight: float | None = None
    ) -> CoocBlend | None:
        """The co-occurrence part of a list for ``recent`` item ids (newest first; None = an
        item-less event), or None when the model is served alone; ``weight`` overrides the
        served weight (the validation grid of ``encoders.training.cooc_fit``)."""
        w = self.cooc_weight if weight is None else weight
        if self.cooc is None or w == 0:
            return None
        return CoocBlend(w, self.cooc.scores(recent))

    @classmethod
    def load(
        cls,
        model_dir: Path | None,
        *,
        device: str = "auto",
        cache_dir: Path | None = None,
        text_encoder: str | None = None,
        seed: int = 0,
        text_memory: int = 0,
    ) -> ServingModel:
        """A checkpoint folder from ``driftrec train``, or ``None`` for an untrained model;
        ``text_memory`` text vectors are kept in an in-memory LRU (0: none)."""
        dev = resolve_device(device)
        cache = TextVectorCache(cache_dir) if cache_dir is not None else None
        memory = MemoryTextCache(text_memory) if text_memory > 0 else None
        if model_dir is None:
            encoder = TextEncoder(text_encoder, device=dev, cache=cache, memory=memory)
            config = ModelConfig(text_dim=encoder.dim)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                net = DriftRecModel(config)
            digest = hashlib.sha256((config.dumps() + encoder.encoder_id).encode()).hexdigest()
            version = f"untrained-{seed}-{digest[:8]}"
            log.warning(
                "NO MODEL CHECKPOINT: serving an UNTRAINED interest model (%s); lists will be "
                "close to random. Train one with `driftrec train --data DIR --out MODEL_DIR`.",
                version,
            )
            return cls(net, encoder, version=version, device=dev)
        ckpt = load_checkpoint(Path(model_dir))
        if ckpt.kind != "driftrec":
            raise CheckpointError(
                f"{model_dir} holds a {ckpt.kind!r} model; only 'driftrec' models can be served"
            )
        config = ModelConfig.from_json(ckpt.config)
        net = DriftRecModel(config)
        try:
            net.load_state_dict(ckpt.state)
        except RuntimeError as exc:
            raise CheckpointError(f"{model_dir}: weights do not fit the config ({exc})") from exc
        source = text_encoder if text_encoder is not None else ckpt.text_encoder.get("source")
        encoder = TextEncoder(source, device=dev, cache=cache, memory=memory)
        trained_id = ckpt.text_encoder.get("id")
        if trained_id and trained_id != encoder.encoder_id:
            log.warning(
                "model %s was trained with text encoder %s, serving with %s",
                ckpt.version,
                trained_id,
                encoder.encoder_id,
            )
        return cls(
            net,
            encoder,
            version=ckpt.version,
            item_ids=ckpt.item_ids,
            device=dev,
            cooc=ckpt.cooc,
            cooc_weight=float(ckpt.cooc_meta.get("weight", 0.0)),
        )

    @property
    def text_cache_hits(self) -> int:
        return self.encoder.cache_hits

    @property
    def text_cache_misses(self) -> int:
        return self.encoder.cache_misses

    def encode_texts(self, texts: Sequence[str], *, cache: bool = True, memory: bool = True) -> F32:
        """``(B, text_dim)`` L2-normalised text vectors, through the in-memory LRU (if
        ``memory``) and the persistent text cache (if ``cache``)."""
        saved = self.encoder.memory
        if not memory:
            self.encoder.memory = None
        try:
            return self.encoder.encode(texts, persist=cache)
        finally:
            self.encoder.memory = saved

    def embed_items(self, items: Sequence[ItemRecord]) -> list[ItemEmbedding]:
        """Features and tower vectors for ``items``, batched; item texts from the cache first."""
        if not items:
            return []
        feats = item_features(items, self.encode_texts([i.text for i in items]), self.config)
        ids = torch.tensor([self._id_index.get(i.item_id, -1) for i in items], dtype=torch.long)
        with torch.inference_mode():
            vecs = self.net.item_vectors(
                torch.from_numpy(feats).to(self.device), ids.to(self.device)
            )
        out = vecs.float().cpu().numpy()  # (N, D)
        return [ItemEmbedding(it.item_id, f, v) for it, f, v in zip(items, feats, out, strict=True)]

    def initial_state(self) -> F32:
        return np.zeros(self.state_dim, dtype=np.float32)  # (S,)

    def step(self, states: F32, events: Sequence[StepEvent]) -> tuple[F32, F32]:
        """states (B, S), one event per row (B different users) -> (new states (B, S), h (B, D))."""
        b = len(events)
        if states.shape != (b, self.state_dim):
            raise ValueError(f"states {states.shape} do not match ({b}, {self.state_dim})")
        with torch.inference_mode():
            x = self._fused(events)
            h, new_states = self.net.step_events(x, _tensor(states, np.float32).to(self.device))
        return new_states.float().cpu().numpy(), h.float().cpu().numpy()

    def step_sequences(self, states: F32, events: Sequence[Sequence[StepEvent]]) -> tuple[F32, F32]:
        """states (B, S), each user's new events in order (B users, at least one each) ->
        (states after each user's last event (B, S), h of every event (E, D), user-major).

        One fusion call and one LSTM call for the whole micro-batch; equal to stepping the
        events round by round (tested to 1e-5)."""
        b = len(events)
        if states.shape != (b, self.state_dim):
            raise ValueError(f"states {states.shape} do not match ({b}, {self.state_dim})")
        lengths = [len(seq) for seq in events]
        if any(n < 1 for n in lengths):
            raise ValueError("every user needs at least one event")
        with torch.inference_mode():
            x = self._fused([e for seq in events for e in seq])  # (E, D)
            state = _tensor(states, np.float32).to(self.device)
            h, new_states = self.net.step_ragged(x, lengths, state)
        return new_states.float().cpu().numpy(), h.float().cpu().numpy()

    def _fused(self, events: Sequence[StepEvent]) -> torch.Tensor:
        """The LSTM inputs (E, D) of ``events`` on the device (free texts encoded in one call)."""
        unknown = [e.action for e in events if e.action not in _ACTION_INDEX]
        if unknown:
            raise ValueError(f"unknown action {unknown[0]!r}; expected one of {ACTIONS}")
        b = len(events)
        feats = np.zeros((b, self.feature_dim), dtype=np.float32)
        vecs = np.zeros((b, self.dim), dtype=np.float32)
        has_item = np.zeros(b, dtype=np.float32)
        for row, e in enumerate(events):
            if e.item is not None:
                feats[row], vecs[row], has_item[row] = e.item.features, e.item.vec, 1.0
        text_rows = [r for r, e in enumerate(events) if e.text]
        text_vecs = np.zeros((b, self.config.text_dim), dtype=np.float32)
        if text_rows:
            texts = [events[r].text or "" for r in text_rows]
            text_vecs[text_rows] = self.encode_texts(texts, cache=False)
        has_text = np.zeros(b, dtype=np.float32)
        has_text[text_rows] = 1.0
        dev = self.device

        def t(a: npt.NDArray[np.generic]) -> torch.Tensor:
            return torch.from_numpy(a).to(dev)  # arrays made here: no copy needed

        actions = np.array([_ACTION_INDEX[e.action] for e in events], dtype=np.int64)
        gaps = np.array([max(e.gap_s, 0.0) for e in events], dtype=np.float32)
        return self.net.fuse_rows(
            t(feats), t(vecs), t(has_item), t(actions), t(gaps), t(text_vecs), t(has_text)
        )

    def update_long_term(self, long: F32, count: npt.NDArray[np.integer], h: F32) -> F32:
        """long (B, D), count (B,) events applied before this one, h (B, D) -> new long (B, D)."""
        out = update_long_term(
            _tensor(long, np.float32),
            _tensor(count, np.int64),
            _tensor(h, np.float32),
            self.config,
        )
        return out.numpy().astype(np.float32)

    def served_interest(
        self,
        h: F32,
        long: F32,
        window: F32 | None = None,
        window_mask: npt.NDArray[np.bool_] | None = None,
    ) -> F32:
        """(B, D), (B, D) [, window (B, W, D), mask (B, W)] -> the user vector (B, D)."""
        dev = self.device
        win = None if window is None else _tensor(window, np.float32).to(dev)
        mask = None if window_mask is None else _tensor(window_mask, np.bool_).to(dev)
        with torch.inference_mode():
            out = self.net.serve(
                _tensor(h, np.float32).to(dev), _tensor(long, np.float32).to(dev), win, mask
            )
        return out.float().cpu().numpy()

    def repeat_bonus(self) -> F32 | None:
        """(R,) learned score bonus of an item seen k events ago (k = 0: the last), or None."""
        bonus = self.net.readout.repeat_bonus()
        return None if bonus is None else bonus.detach().float().cpu().numpy()

    def score(self, users: F32, items: F32) -> F32:
        """users (B, D) x items (N, D) -> (B, N) inner products (on the device).

        On the CPU the catalog matrix is used where it lies (no copy of the whole catalog per
        call: it is read, never written); only a read-only or non-float32 one is copied."""
        with torch.inference_mode():
            u = _tensor(users, np.float32).to(self.device)
            v = _shared(items) if self.device.type == "cpu" else _tensor(items, np.float32)
            return (u @ v.to(self.device).T).cpu().numpy()
