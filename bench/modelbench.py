"""Suite sections that need no broker: incremental step vs recompute, encoder, catalog memory,
retrieval time against catalog size (and an approximate index), profile size and RocksDB bytes.

They call the real code paths: ``encoders.serving.ServingModel`` (untrained weights: timing does
not depend on training), ``profiles.retrieval.ItemIndex``, ``profiles.profile.UserProfile`` and
RocksDB opened with Faust's own options.
"""

from __future__ import annotations

import random
import time
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
from encoders.serving import ServingModel
from profiles.contracts import ItemEmbedding, StepEvent
from profiles.profile import Applied, RecentEvent, UserProfile
from profiles.retrieval import ItemIndex, Query
from streams.messages.records import ACTIONS, BehaviourEvent

if TYPE_CHECKING:
    from bench.suite import Context

K = 10
#: Items per embedding batch in the worker (Settings.item_batch_max).
EMBED_BATCH = 256


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


class _Histories:
    """``users`` users' histories of ``length`` item events, through the serving calls.

    ``stored`` is every user's profile state before their last event; :meth:`last_step` is the
    incremental update (one batched step for all users, as the worker runs it), :meth:`sequence`
    the recompute (the model's sequence forward over every full history in one call: one fused
    LSTM kernel over T steps, the fastest honest recompute), :meth:`replay` the naive recompute
    (every event through the serving step again; one user only).
    """

    def __init__(
        self,
        model: ServingModel,
        catalog: list[ItemEmbedding],
        length: int,
        users: int,
        seed: int,
    ) -> None:
        self.model = model
        rng = random.Random(seed)
        actions = [a for a in ACTIONS if a not in ("search", "comment")]  # item events, no text
        self.hist = [
            [(rng.randrange(len(catalog)), rng.choice(actions)) for _ in range(length)]
            for _ in range(users)
        ]
        self.steps = [
            [StepEvent(action=a, gap_s=60.0, item=catalog[i], text=None) for i, a in h]
            for h in self.hist
        ]  # [user][t]
        states = np.stack([model.initial_state()] * users)  # (B, S)
        long = np.zeros((users, model.dim), np.float32)  # (B, D)
        for t in range(length - 1):
            states, long, _ = self._advance(states, long, t, [s[t] for s in self.steps])
        self.stored = (states, long)
        self.length = length

    def _advance(
        self, states: np.ndarray, long: np.ndarray, n: int, events: list[StepEvent]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the worker does per round: step, long-term update, served interest (B users)."""
        m = self.model
        new_states, h = m.step(states, events)  # (B, S), (B, D)
        count = np.full(len(events), n)  # (B,) events applied before this one
        new_long = m.update_long_term(long, count, h)  # (B, D)
        return new_states, new_long, m.served_interest(h, new_long)

    def last_step(self) -> np.ndarray:
        """Every user's last event from the stored state -> served interest (B, D)."""
        last = [s[-1] for s in self.steps]
        return self._advance(*self.stored, self.length - 1, last)[2]

    def replay(self) -> None:
        """User 0's whole history again, event by event through the serving step."""
        s = self.model.initial_state()[None]  # (1, S)
        lt = np.zeros((1, self.model.dim), np.float32)  # (1, D)
        for t, ev in enumerate(self.steps[0]):
            s, lt, _ = self._advance(s, lt, t, [ev])

    def sequence_fn(self, feats: torch.Tensor, vecs: torch.Tensor) -> Callable[[], np.ndarray]:
        """The recompute: the sequence forward over every full history -> served (B, D)."""
        m, b, t = self.model, len(self.hist), self.length
        ev = EventTensors(
            item=torch.tensor([[i for i, _ in h] for h in self.hist]),  # (B, T)
            action=torch.tensor([[ACTIONS.index(a) for _, a in h] for h in self.hist]),
            gap_s=torch.full((b, t), 60.0),
            text_vec=torch.zeros(b, t, m.config.text_dim),
            has_text=torch.zeros(b, t),
            mask=torch.ones(b, t, dtype=torch.bool),
        ).to(m.device)

        def run() -> np.ndarray:
            with torch.inference_mode():
                _, served = m.net.sequence(ev, feats, vecs)  # (B, T, D)
            out: np.ndarray = served[:, -1].float().cpu().numpy()  # (B, D)
            return out

        return run


def incremental(ctx: Context) -> dict[str, Any]:
    """One step from the stored state vs re-running the whole history (L = 10, 50, 200), for one
    user (B = 1) and for a worker-sized batch of users (B = the default micro-batch), where both
    sides are batched the same way. Both paths' served interests are compared (max abs diff)."""
    model = _model(ctx)
    catalog = _catalog(ctx)
    feats = torch.from_numpy(np.stack([c.features for c in catalog])).to(model.device)  # (N, F)
    vecs = torch.from_numpy(np.stack([c.vec for c in catalog])).to(model.device)  # (N, D)
    batch = ctx.settings.batch_max
    ratios: dict[str, float] = {}
    batched: dict[str, float] = {}
    detail: dict[str, Any] = {}
    for length in ctx.config.history_lengths:
        row: dict[str, float] = {}
        for users in (1, batch):
            hs = _Histories(model, catalog, length, users, ctx.config.seed + length)
            recompute = hs.sequence_fn(feats, vecs)
            step_t = time_per_call(hs.last_step)
            seq_t = time_per_call(recompute, blocks=3 if users > 1 else 5)
            diff = float(np.max(np.abs(recompute() - hs.last_step())))
            tag = "b1" if users == 1 else f"b{users}"
            # Conservative spread of the ratio over the timed blocks of each side.
            row[f"{tag}_ratio_min"] = seq_t.lo / step_t.hi
            row[f"{tag}_ratio_max"] = seq_t.hi / step_t.lo
            row |= {
                f"{tag}_step_us_per_user": step_t.median * 1e6 / users,
                f"{tag}_recompute_us_per_user": seq_t.median * 1e6 / users,
                f"{tag}_ratio": seq_t.median / step_t.median,
                f"{tag}_max_abs_diff": diff,
            }
            if users == 1:
                replay_t = time_per_call(hs.replay, blocks=3)
                row["b1_replay_stepwise_us"] = replay_t.median * 1e6
                row["b1_ratio_vs_replay"] = replay_t.median / step_t.median
        ratios[str(length)] = row["b1_ratio"]
        batched[str(length)] = row[f"b{batch}_ratio"]
        detail[str(length)] = row
        ctx.say(
            f"history {length}: 1 user: step {row['b1_step_us_per_user']:,.0f} us vs recompute "
            f"{row['b1_recompute_us_per_user']:,.0f} us (x{ratios[str(length)]:.1f}); "
            f"{batch} users: x{batched[str(length)]:.1f}"
        )
    return {
        "incremental_vs_recompute": ratios,
        "incremental_vs_recompute_batched": batched,
        "incremental_detail": detail
        | {"batch": batch, "lstm_kernel_step_us": _core_step_us(model)},
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
    one_text = time_per_call(
        lambda: model.encode_texts(["cheap camping gear"], cache=False, memory=False)
    )
    from bench.pipelinebench import text_share

    share = text_share(ctx)
    sample = _sample_events()
    sample_share = sum(e.text is not None for e in sample) / len(sample) if sample else None
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
            "share_online_retail_sample": sample_share,
            "share_note": "events with free text (search/comment) in the benchmark stream; "
            "item texts are encoded once per item, when it arrives",
            "encoder_id": model.encoder.encoder_id,
        }
    }


def _build_index(n: int, dim: int, feat_dim: int, seed: int) -> ItemIndex[ItemEmbedding]:
    """An ItemIndex holding ``n`` items as the worker does: each payload's fused features (F,)
    and tower vector (D,) are rows of the (256, F) and (256, D) arrays of the batch it was
    embedded in, exactly as ``ServingModel.embed_items`` returns them."""
    rng = np.random.default_rng(seed)
    vecs = clustered_vectors(n, dim, clusters=max(8, int(np.sqrt(n))), seed=seed)  # (N, D)
    index: ItemIndex[ItemEmbedding] = ItemIndex(dim, capacity=n)
    for start in range(0, n, EMBED_BATCH):
        stop = min(n, start + EMBED_BATCH)
        feats = rng.standard_normal((stop - start, feat_dim), dtype=np.float32)  # (b, F)
        tower = vecs[start:stop].copy()  # (b, D)
        for row, i in enumerate(range(start, stop)):
            item_id = f"i{i:07d}"
            index.upsert(item_id, tower[row], ItemEmbedding(item_id, feats[row], tower[row]))
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
    model = _model(ctx)
    dim = model.dim
    rng = np.random.default_rng(ctx.config.seed)
    exact_ms: dict[str, float] = {}
    batched_ms: dict[str, float] = {}
    ann: dict[str, Any] = {}
    for n in ctx.config.catalog_sizes:
        index = _build_index(n, dim, 8, ctx.config.seed)  # small payloads: only vectors matter
        users = clustered_vectors(64, dim, clusters=16, seed=ctx.config.seed + 1)  # (64, D)
        exclude = [frozenset(f"i{rng.integers(n):07d}" for _ in range(20)) for _ in range(64)]
        queries = [Query(users[b], exclude[b], ()) for b in range(64)]
        # score=model.score: the product runs in torch on the model's device, as in the worker.
        one = time_per_call(partial(index.top_k, queries[:1], K, score=model.score))
        batch = time_per_call(partial(index.top_k, queries, K, score=model.score), blocks=3)
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


def _sample_events() -> list[BehaviourEvent]:
    """The shipped Online Retail sample's events (empty when this install has no sample)."""
    try:
        from encoders.data.folder import read_folder
        from encoders.samples import sample_path

        return list(read_folder(sample_path()).events)
    except (ImportError, FileNotFoundError, AttributeError):
        return []


def _profile(
    dim: int,
    state_dim: int,
    id_chars: int,
    seed: int,
    events: list[BehaviourEvent] | None = None,
) -> UserProfile:
    """A profile as the worker keeps it after many events: full recent window, a list published.

    Ids are ``id_chars`` long, or those of ``events`` (one real user's history) when given.
    """
    rng = np.random.default_rng(seed)
    user = events[0].user_id if events else "u" + "0" * (id_chars - 1)
    p = UserProfile(user, "m-0123456789ab", np.zeros(state_dim), dim)
    for n in range(40):
        interest = rng.standard_normal(dim).astype(np.float32)
        if events:
            e = events[n % len(events)]
            recent = RecentEvent(f"{e.event_id}", e.item_id, e.action, e.ts)
        else:
            recent = RecentEvent(
                f"e{n:0{id_chars - 1}d}", f"i{n:0{id_chars - 1}d}", "view", 1.8e9 + n
            )
        p.update(
            Applied(
                event=recent,
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
    sample = _sample_events()
    if sample:
        # The sample user with the most events: a full window of real ids.
        by_user: dict[str, list[BehaviourEvent]] = {}
        for e in sample:
            by_user.setdefault(e.user_id, []).append(e)
        busiest = max(by_user.values(), key=len)
        sizes["online_retail_sample"] = len(
            _profile(model.dim, model.state_dim, 0, 0, busiest).to_bytes()
        )
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
    out["profile_bytes"] = sizes.get("online_retail_sample", sizes["12_char_ids"])
    return out


#: The engine's events/s at batch 256 before issue 15's work, the yardstick of its 5x target:
#: quick mode (500 events) as issue 15 quotes it, full mode (2,000 events) from the committed
#: quiet full run. Same events, same model, same code path as measured here.
ENGINE_BASELINE: dict[str, dict[str, Any]] = {
    "quick": {
        "events_per_s": 3_975.0,
        "source": "issue 15, quick mode (bench/results/quick-2cpu-loaded.json has 3,952)",
    },
    "full": {"events_per_s": 3_088.0, "source": "bench/results/full-2cpu-quiet.json"},
}


def engine(ctx: Context) -> dict[str, Any]:
    """The model side alone: ``profiles.engine.Engine.process`` with the real serving model, no
    Kafka, at several micro-batch sizes (profiles kept as objects; one list per event, as in the
    pipeline runs). Shows what batching buys where the model works, and the ceiling that the
    model side puts on a worker's throughput."""
    from profiles.engine import Engine, Incoming
    from profiles.policy import PolicyConfig
    from streams.messages.records import parse_event

    cfg = ctx.config
    model = _model(ctx)
    n_items = 256
    index: ItemIndex[ItemEmbedding] = ItemIndex(model.dim)
    for emb in model.embed_items(make_items(n_items, seed=cfg.seed)):
        index.upsert(emb.item_id, emb.vec, emb)
    eng = Engine(model, index, PolicyConfig(refresh_events=1))
    from bench.events import make_events

    n = 500 if cfg.quick else 2_000
    events = list(make_events(n, cfg.users, n_items, seed=cfg.seed, start_ts=1.8e9))
    rates: dict[str, float] = {}
    all_runs: dict[str, list[float]] = {}
    for size in sorted({1, *cfg.batch_sweep, ctx.settings.batch_max}):
        runs = []
        for _ in range(cfg.micro_repeats):
            stored: dict[str, UserProfile | None] = {}
            t0 = time.perf_counter()
            for start in range(0, n, size):
                chunk = events[start : start + size]
                batch = [
                    Incoming(parse_event(e.to_json()), "events:0", start + k, k)
                    for k, e in enumerate(chunk)
                ]
                result = eng.process(batch, {e.user_id: stored.get(e.user_id) for e in chunk})
                stored.update(result.profiles)
            runs.append(n / (time.perf_counter() - t0))
        rates[str(size)] = float(np.median(runs))
        all_runs[str(size)] = runs
        ctx.say(f"engine, batch {size}: {rates[str(size)]:,.0f} events/s")
    default = str(ctx.settings.batch_max)
    baseline = ENGINE_BASELINE["quick" if cfg.quick else "full"]
    return {
        "engine_batching": {
            "events_per_s": rates,
            "runs": all_runs,
            "baseline": baseline,
            "vs_baseline_runs": [r / baseline["events_per_s"] for r in all_runs[default]],
            "default": ctx.settings.batch_max,
            "default_vs_1": rates[default] / rates["1"],
            "events": n,
            "text_events_share": sum(e.text is not None for e in events) / n,
        }
    }
