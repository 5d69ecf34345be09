"""Suite sections that need no broker: incremental step vs recompute, encoder, catalog memory,
retrieval time against catalog size (and an approximate index), profile size and RocksDB bytes.

They call the real code paths: ``encoders.serving.ServingModel`` (untrained weights: timing does
not depend on training), ``profiles.retrieval.ItemIndex``, ``profiles.profile.UserProfile`` and
RocksDB opened with Faust's own options.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.ann import IVFIndex, clustered_vectors, exact_top_k, recall_at_k
from bench.events import make_items
from bench.stats import time_per_call
from encoders.model import EventTensors
from encoders.records import ACTIONS
from encoders.serving import ItemEmbedding, ServingModel, StepEvent
from profiles.profile import Applied, RecentEvent, UserProfile
from profiles.retrieval import ItemIndex, Query

if TYPE_CHECKING:
    from bench.suite import Context

K = 10


def _model(ctx: Context) -> ServingModel:
    if "model" not in ctx.shared:
        ctx.say("loading the serving model (untrained weights, packaged MiniLM encoder)")
        ctx.shared["model"] = ServingModel.load(
            ctx.settings.model_dir, device="auto", cache_dir=ctx.scratch / "textcache"
        )
    model: ServingModel = ctx.shared["model"]
    return model


def _catalog(ctx: Context, n: int = 64) -> list[ItemEmbedding]:
    if "catalog" not in ctx.shared:
        ctx.shared["catalog"] = _model(ctx).embed_items(make_items(n, seed=ctx.config.seed))
    catalog: list[ItemEmbedding] = ctx.shared["catalog"]
    return catalog


def _history(catalog: list[ItemEmbedding], length: int, seed: int) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    actions = [a for a in ACTIONS if a not in ("search", "comment")]  # item events, no text
    return [(rng.randrange(len(catalog)), rng.choice(actions)) for _ in range(length)]


class _Replay:
    """One user's history of item events, replayed through the serving calls."""

    def __init__(self, model: ServingModel, catalog: list[ItemEmbedding], length: int, seed: int):
        self.model = model
        self.hist = _history(catalog, length, seed)
        self.steps = [
            StepEvent(action=a, gap_s=60.0, item=catalog[i], text=None) for i, a in self.hist
        ]
        state, long = model.initial_state(), np.zeros(model.dim, np.float32)
        for n, ev in enumerate(self.steps[:-1]):
            state, long, _ = self.advance(state, long, n, ev)
        self.stored = (state, long)  # the profile as stored before the last event

    def advance(
        self, state: np.ndarray, long: np.ndarray, n: int, ev: StepEvent
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the worker does per event: step, long-term update, served interest (B = 1)."""
        m = self.model
        new_state, h = m.step(state[None], [ev])  # (1, S), (1, D)
        new_long = m.update_long_term(long[None], np.array([n]), h)  # (1, D)
        return new_state[0], new_long[0], m.served_interest(h, new_long)[0]

    def last_step(self) -> np.ndarray:
        """The incremental update: the last event from the stored state -> served (D,)."""
        return self.advance(*self.stored, len(self.steps) - 1, self.steps[-1])[2]

    def replay(self) -> None:
        """Recompute by replaying every event through the serving step."""
        s, lt = self.model.initial_state(), np.zeros(self.model.dim, np.float32)
        for n, ev in enumerate(self.steps):
            s, lt, _ = self.advance(s, lt, n, ev)

    def sequence_fn(self, feats: torch.Tensor, vecs: torch.Tensor) -> Callable[[], np.ndarray]:
        """Recompute with the model's sequence forward over the whole history (one call)."""
        m, t = self.model, len(self.hist)
        ev = EventTensors(
            item=torch.tensor([[i for i, _ in self.hist]]),
            action=torch.tensor([[ACTIONS.index(a) for _, a in self.hist]]),
            gap_s=torch.full((1, t), 60.0),
            text_vec=torch.zeros(1, t, m.config.text_dim),
            has_text=torch.zeros(1, t),
            mask=torch.ones(1, t, dtype=torch.bool),
        ).to(m.device)

        def run() -> np.ndarray:
            with torch.inference_mode():
                _, served = m.net.sequence(ev, feats, vecs)  # (1, T, D)
            out: np.ndarray = served[0, -1].float().cpu().numpy()  # (D,)
            return out

        return run


def incremental(ctx: Context) -> dict[str, Any]:
    """One step from the stored state vs re-running the whole history (L = 10, 50, 200).

    Incremental: ``step`` + long-term update + served interest for one user (what the worker does
    per event). Recompute: the model's sequence forward over the whole history in one call (the
    fastest honest recompute: one fused LSTM kernel over T steps), and, for reference, replaying
    the history step by step. The served interest of both paths is compared (max abs diff).
    """
    model = _model(ctx)
    catalog = _catalog(ctx)
    feats = torch.from_numpy(np.stack([c.features for c in catalog])).to(model.device)  # (N, F)
    vecs = torch.from_numpy(np.stack([c.vec for c in catalog])).to(model.device)  # (N, D)
    ratios: dict[str, float] = {}
    detail: dict[str, Any] = {}
    for length in ctx.config.history_lengths:
        rp = _Replay(model, catalog, length, ctx.config.seed + length)
        recompute = rp.sequence_fn(feats, vecs)
        step_t = time_per_call(rp.last_step)
        seq_t = time_per_call(recompute)
        replay_t = time_per_call(rp.replay, blocks=3)
        diff = float(np.max(np.abs(recompute() - rp.last_step())))
        ratios[str(length)] = seq_t.median / step_t.median
        detail[str(length)] = {
            "step_us": step_t.median * 1e6,
            "recompute_sequence_us": seq_t.median * 1e6,
            "recompute_stepwise_us": replay_t.median * 1e6,
            "ratio_vs_stepwise": replay_t.median / step_t.median,
            "max_abs_diff": diff,
        }
        ctx.say(
            f"history {length}: step {step_t.median * 1e6:,.0f} us, recompute "
            f"{seq_t.median * 1e6:,.0f} us (x{ratios[str(length)]:.1f}), diff {diff:.1e}"
        )
    return {
        "incremental_vs_recompute": ratios,
        "incremental_detail": detail | {"lstm_kernel_step_us": _core_step_us(model)},
    }


def _core_step_us(model: ServingModel) -> float:
    """The LSTM step alone on tensors (no fusion, no numpy round trips): the floor of a step."""
    x = torch.zeros(1, model.dim, device=model.device)
    s = torch.zeros(1, model.state_dim, device=model.device)

    def step() -> None:
        with torch.inference_mode():
            model.net.step_events(x, s)

    return time_per_call(step).median * 1e6


def encoder(ctx: Context) -> dict[str, Any]:
    """Texts/s through the text cache on misses (encode + store) and hits; free-text share."""
    model = _model(ctx)
    n = ctx.config.encoder_texts
    batch = 32
    miss_rates, hit_rates = [], []
    for r in range(ctx.config.micro_repeats):
        texts = [f"{it.text} #{r}" for it in make_items(n, seed=1000 + r)]
        chunks = [texts[i : i + batch] for i in range(0, n, batch)]
        import time

        t0 = time.perf_counter()
        for c in chunks:
            model.encode_texts(c)
        miss_rates.append(n / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for c in chunks:
            model.encode_texts(c)
        hit_rates.append(n / (time.perf_counter() - t0))
    one_text = time_per_call(lambda: model.encode_texts(["cheap camping gear"], cache=False))
    from bench.pipelinebench import text_share

    share = text_share(ctx)
    miss, hit = float(np.median(miss_rates)), float(np.median(hit_rates))
    ctx.say(f"encoder: {miss:,.0f} texts/s on misses, {hit:,.0f} on hits")
    return {
        "encoder": {
            "miss_texts_per_s": miss,
            "hit_texts_per_s": hit,
            "hit_vs_miss": hit / miss,
            "batch": batch,
            "single_uncached_text_ms": one_text.median * 1e3,
            "share_events_needing_encoder": share,
            "share_note": "events with free text (search/comment) in the benchmark stream; "
            "item texts are encoded once per item, when it arrives",
            "encoder_id": model.encoder.encoder_id,
        }
    }


def _build_index(n: int, dim: int, feat_dim: int, seed: int) -> ItemIndex[ItemEmbedding]:
    """An ItemIndex holding ``n`` items as the worker does (tower vector + fused features)."""
    rng = np.random.default_rng(seed)
    vecs = clustered_vectors(n, dim, clusters=max(8, int(np.sqrt(n))), seed=seed)  # (N, D)
    index: ItemIndex[ItemEmbedding] = ItemIndex(dim, capacity=n)
    for i in range(n):
        feats = rng.standard_normal(feat_dim).astype(np.float32)  # (F,)
        index.upsert(f"i{i:07d}", vecs[i], ItemEmbedding(f"i{i:07d}", feats, vecs[i].copy()))
    return index


def catalog(ctx: Context) -> dict[str, Any]:
    """Memory of the worker's catalog at each size: the (N, D) matrix and everything with it
    (per-item payloads: fused features (F,) and tower vector (D,), ids, dicts), via tracemalloc."""
    model = _model(ctx)
    out: dict[str, Any] = {}
    totals: dict[str, float] = {}
    for n in ctx.config.catalog_sizes:
        tracemalloc.start()
        index = _build_index(n, model.dim, model.feature_dim, ctx.config.seed)
        total, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        totals[str(n)] = float(total)
        out[str(n)] = {
            "total_bytes": total,
            "matrix_bytes": index.matrix.nbytes,
            "bytes_per_item": total / n,
        }
        ctx.say(f"catalog {n:,} items: {total / 2**20:,.1f} MiB ({total / n:,.0f} B/item)")
        del index
    return {
        "catalog_memory_bytes": totals,
        "catalog": out | {"dim": model.dim, "feature_dim": model.feature_dim},
    }


def retrieval(ctx: Context) -> dict[str, Any]:
    """Top-K retrieval time per user against catalog size, exact (the worker's ItemIndex.top_k)
    and with the numpy IVF index of :mod:`bench.ann` (recall@10 against exact), single users and
    batches of 64. Vectors: unit vectors in category-like clusters (no trained tower needed)."""
    dim = _model(ctx).dim
    rng = np.random.default_rng(ctx.config.seed)
    exact_ms: dict[str, float] = {}
    batched_ms: dict[str, float] = {}
    ann: dict[str, Any] = {}
    for n in ctx.config.catalog_sizes:
        index = _build_index(n, dim, 8, ctx.config.seed)  # small payloads: only vectors matter
        users = clustered_vectors(64, dim, clusters=16, seed=ctx.config.seed + 1)  # (64, D)
        exclude = [frozenset(f"i{rng.integers(n):07d}" for _ in range(20)) for _ in range(64)]
        queries = [Query(users[b], exclude[b], ()) for b in range(64)]
        one = time_per_call(partial(index.top_k, queries[:1], K))
        batch = time_per_call(partial(index.top_k, queries, K), blocks=3)
        exact_ms[str(n)] = one.median * 1e3
        batched_ms[str(n)] = batch.median * 1e3 / 64
        nlist = max(4, int(np.sqrt(n)))
        ivf = IVFIndex(index.matrix.copy(), nlist, seed=ctx.config.seed)
        truth = exact_top_k(index.matrix, users, K)
        per_probe = {}
        for nprobe in (1, 4, 16):
            got = ivf.search(users, K, nprobe)
            t = time_per_call(partial(ivf.search, users[:1], K, nprobe))
            per_probe[str(nprobe)] = {
                "ms_per_user": t.median * 1e3,
                "recall_at_10": recall_at_k(got, truth),
            }
        ann[str(n)] = {"nlist": nlist, "nprobe": per_probe}
        ctx.say(
            f"retrieval {n:,} items: exact {exact_ms[str(n)]:.3f} ms/user "
            f"({batched_ms[str(n)]:.3f} in batches of 64); IVF nprobe 4: "
            f"{per_probe['4']['ms_per_user']:.3f} ms, recall {per_probe['4']['recall_at_10']:.2f}"
        )
    return {
        "retrieval": {
            "k": K,
            "exact_ms_per_user": exact_ms,
            "exact_ms_per_user_batch64": batched_ms,
            "ivf": ann,
            "vectors": "clustered synthetic unit vectors, D = model dim",
        }
    }


def _profile(dim: int, state_dim: int, id_chars: int, seed: int) -> UserProfile:
    """A profile as the worker keeps it after many events: full recent window, a list published."""
    rng = np.random.default_rng(seed)
    p = UserProfile("u" + "0" * (id_chars - 1), "m-0123456789ab", np.zeros(state_dim), dim)
    for n in range(40):
        interest = rng.standard_normal(dim).astype(np.float32)
        p.update(
            Applied(
                event=RecentEvent(
                    f"e{n:0{id_chars - 1}d}", f"i{n:0{id_chars - 1}d}", "view", 1.8e9 + n
                ),
                source="behaviour-events:3",
                offset=1_000_000 + n,
                state=rng.standard_normal(state_dim).astype(np.float32),
                long_term=rng.standard_normal(dim).astype(np.float32),
                interest=interest,
                drift=0.1,
            )
        )
        if n % 10 == 0:
            p.mark_published(1.8e9 + n)
    return p


def storage(ctx: Context) -> dict[str, Any]:
    """Packed profile bytes, and RocksDB bytes per profile at 10k and 100k users.

    RocksDB is opened with Faust's own options (``faust.stores.rocksdb.RocksDBOptions``), keys
    as Faust's table writes them (JSON strings), values the packed profiles; after a flush and a
    full compaction the SST files' size is divided by the number of users.
    """
    from faust.stores.rocksdb import RocksDBOptions

    model = _model(ctx)
    sizes = {
        f"{c}_char_ids": len(_profile(model.dim, model.state_dim, c, 0).to_bytes())
        for c in (8, 12, 36)
    }
    out: dict[str, Any] = {"profile_sizes": sizes}
    per_user: dict[str, Any] = {}
    template = _profile(model.dim, model.state_dim, 12, 0)
    rng = np.random.default_rng(ctx.config.seed)
    for users in ctx.config.storage_users:
        path = ctx.scratch / f"rocks-{users}"
        db = RocksDBOptions().open(path)
        for u in range(users):
            template.user_id = f"u{u:011d}"
            template.state = rng.standard_normal(model.state_dim).astype(np.float32)
            template.interest = rng.standard_normal(model.dim).astype(np.float32)
            db.put(f'"{template.user_id}"'.encode(), template.to_bytes())
        db.flush()
        db.compact_range(None, None)
        db.close()
        on_disk = sum(f.stat().st_size for f in Path(path).glob("*.sst"))
        per_user[str(users)] = {"bytes_per_profile": on_disk / users, "sst_bytes": on_disk}
        ctx.say(f"RocksDB, {users:,} users: {on_disk / users:,.0f} B/profile on disk")
    out["storage"] = per_user
    out["profile_bytes"] = sizes["12_char_ids"]
    return out
