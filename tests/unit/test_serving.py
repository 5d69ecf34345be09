"""The serving contract through a saved checkpoint: round trip, parity with training, safety."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from encoders.config import ModelConfig
from encoders.model import DriftRecModel, EventTensors
from encoders.serving import ServingModel
from encoders.textenc import TextEncoder
from profiles.contracts import StepEvent
from streams.messages.records import ACTIONS, ItemRecord
from tests.unit.tinylm import build_tiny_model

ITEMS = [
    ItemRecord("i0", "red heart light holder", attributes={"price": 2.5}),
    ItemRecord("i1", "blue tea mug", modalities={"image": (0.1, 0.2, 0.3, 0.4)}),
    ItemRecord("i2", "vintage christmas star", category="christmas"),
    ItemRecord("i3", "garden party cake", attributes={"price": 12.0}),
]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("bert"), "bert")


@pytest.fixture(scope="module")
def saved(bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DriftRecModel]:
    config = ModelConfig(
        text_dim=32, dim=16, modalities=(("image", 4),), attributes=("price",), n_id_items=3
    )
    torch.manual_seed(0)
    net = DriftRecModel(config).eval()
    enc = TextEncoder(bert_dir, device="cpu")
    out = tmp_path_factory.mktemp("model")
    save_checkpoint(
        out, kind="driftrec", config=config.to_json(), state=net.state_dict(),
        text_encoder={"id": enc.encoder_id, "source": str(bert_dir)},
        metrics={"NDCG@10": 0.5}, item_ids=["i0", "i1", "i2"],
    )  # fmt: skip
    return out, net


def test_round_trip_matches_training_forward(
    saved: tuple[Path, DriftRecModel], tmp_path: Path
) -> None:
    model_dir, net = saved
    model = ServingModel.load(model_dir, device="cpu", cache_dir=tmp_path)
    assert model.version.startswith("m-") and model.version == load_checkpoint(model_dir).version
    assert (model.dim, model.state_dim, model.feature_dim) == (16, 32, 32 + 4 + 1 + 2)
    items = model.embed_items(ITEMS)
    assert model.text_cache_misses == 4 and model.text_cache_hits == 0
    feats = torch.from_numpy(np.stack([e.features for e in items]))
    with torch.inference_mode():
        vecs = net.item_vectors(feats, torch.tensor([0, 1, 2, -1]))
    np.testing.assert_allclose(np.stack([e.vec for e in items]), vecs.numpy(), atol=1e-6)
    assert items[1].features[32 + 4] == 1.0 and items[0].features[32 + 4] == 0.0  # image mask

    # Two users, 4 events each, stepped one event per user per call.
    seqs = [
        [("view", 0.0, 0, None), ("search", 30.0, None, "tea mug"), ("cart", 5.0, 1, None),
         ("purchase", 3600.0, 1, None)],
        [("click", 0.0, 3, None), ("click", 10.0, 2, "star"), ("like", 86400.0, 2, None),
         ("view", 1.0, 0, None)],
    ]  # fmt: skip
    states = np.stack([model.initial_state()] * 2)
    long = np.zeros((2, model.dim), dtype=np.float32)
    served = []
    for t in range(4):
        events = [StepEvent(a, g, None if i is None else items[i], x) for a, g, i, x in
                  (seq[t] for seq in seqs)]  # fmt: skip
        states, h = model.step(states, events)
        long = model.update_long_term(long, np.full(2, t), h)
        served.append(model.served_interest(h, long))
    assert states.shape == (2, 32) and states.dtype == np.float32

    text = model.encode_texts(["tea mug", "star"], cache=False)
    ev = EventTensors(
        item=torch.tensor([[0, -1, 1, 1], [3, 2, 2, 0]]),
        action=torch.tensor([[ACTIONS.index(s[0]) for s in seq] for seq in seqs]),
        gap_s=torch.tensor([[s[1] for s in seq] for seq in seqs]),
        text_vec=torch.zeros(2, 4, 32),
        has_text=torch.tensor([[0.0, 1, 0, 0], [0, 1, 0, 0]]),
        mask=torch.ones(2, 4, dtype=torch.bool),
    )
    ev.text_vec[0, 1], ev.text_vec[1, 1] = torch.from_numpy(text[0]), torch.from_numpy(text[1])
    with torch.inference_mode():
        _, served_seq = net.sequence(ev, feats, vecs)
    np.testing.assert_allclose(np.stack(served, axis=1), served_seq.numpy(), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(served[-1], axis=1), 1.0, rtol=1e-5)
    scores = model.score(served[-1], np.stack([e.vec for e in items]))
    assert scores.shape == (2, 4)


def test_text_cache_survives_a_restart(saved: tuple[Path, DriftRecModel], tmp_path: Path) -> None:
    ServingModel.load(saved[0], device="cpu", cache_dir=tmp_path).embed_items(ITEMS)
    again = ServingModel.load(saved[0], device="cpu", cache_dir=tmp_path)
    again.embed_items(ITEMS)
    assert (again.text_cache_hits, again.text_cache_misses) == (4, 0)


def test_same_inputs_same_outputs(saved: tuple[Path, DriftRecModel]) -> None:
    outs = []
    for _ in range(2):
        model = ServingModel.load(saved[0], device="cpu")
        items = model.embed_items(ITEMS)
        states, h = model.step(np.stack([model.initial_state()] * 2),
                               [StepEvent("view", 0.0, items[0], None),
                                StepEvent("search", 0.0, None, "red cake")])  # fmt: skip
        outs.append((states, h))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_untrained_model_warns_and_is_seeded(
    bert_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        a = ServingModel.load(None, device="cpu", text_encoder=str(bert_dir), seed=7)
    assert "UNTRAINED" in caplog.text
    b = ServingModel.load(None, device="cpu", text_encoder=str(bert_dir), seed=7)
    c = ServingModel.load(None, device="cpu", text_encoder=str(bert_dir), seed=8)
    assert a.version == b.version != c.version and a.version.startswith("untrained-7-")
    np.testing.assert_array_equal(a.embed_items(ITEMS)[0].vec, b.embed_items(ITEMS)[0].vec)


def test_bad_inputs_and_bad_folders(saved: tuple[Path, DriftRecModel], tmp_path: Path) -> None:
    model = ServingModel.load(saved[0], device="cpu")
    with pytest.raises(ValueError, match="unknown action"):
        model.step(np.stack([model.initial_state()]), [StepEvent("teleport", 0.0, None, "x")])
    with pytest.raises(ValueError, match="states"):
        model.step(np.zeros((2, 3), dtype=np.float32), [StepEvent("view", 0.0, None, "x")])
    with pytest.raises(CheckpointError, match="not a driftrec model folder"):
        ServingModel.load(tmp_path, device="cpu")
    # a modified weights file is caught by the content version
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in saved[0].iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    raw = bytearray((bad / "model.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="do not match"):
        ServingModel.load(bad, device="cpu")


def test_read_only_inputs_are_accepted(saved: tuple[Path, DriftRecModel]) -> None:
    # profiles come back from a store as bytes: np.frombuffer views are read-only
    model = ServingModel.load(saved[0], device="cpu")
    raw = np.arange(2 * model.state_dim, dtype=np.float32).tobytes()
    states = np.frombuffer(raw, dtype=np.float32).reshape(2, model.state_dim) / 1000
    states.flags.writeable = False
    events = [StepEvent("view", 1.0, None, "red mug"), StepEvent("click", 2.0, None, "tea")]
    new, h = model.step(states, events)
    long = np.frombuffer(h.tobytes(), dtype=np.float32).reshape(h.shape)
    count = np.frombuffer(np.array([3, 0], dtype=np.int64).tobytes(), dtype=np.int64)
    long2 = model.update_long_term(long, count, h)
    served = model.served_interest(h, long2)
    assert model.score(served, long).shape == (2, 2)
    assert new.flags.writeable and np.isfinite(served).all()


def test_engine_window_read_out_matches_the_sequence_forward(bert_dir: Path) -> None:
    """The worker's attention window (the profile's recent events + the event being applied)
    gives the trainer's sliding-window user vector, and the repeat bonus reaches the query."""
    from encoders.training.batching import Catalog, collate, gaps_seconds
    from profiles.engine import Engine, Incoming
    from profiles.policy import PolicyConfig
    from profiles.retrieval import ItemIndex
    from streams.messages.records import BehaviourEvent

    config = ModelConfig(
        text_dim=32, dim=16, modalities=(("image", 4),), attributes=("price",),
        scoring="dot", learn_mix=True, attention_window=3, repeat_window=2,
    )  # fmt: skip
    torch.manual_seed(1)
    net = DriftRecModel(config).eval()
    with torch.no_grad():
        for p in (net.readout.value.weight, net.readout.slot_bias, net.readout.repeat):  # type: ignore[union-attr]
            p.normal_(0.0, 0.5)
    enc = TextEncoder(bert_dir, device="cpu")
    model = ServingModel(net, enc, version="t", device=torch.device("cpu"))
    index: ItemIndex = ItemIndex(model.dim)
    for emb in model.embed_items(ITEMS):
        index.upsert(emb.item_id, emb.vec, emb)
    engine = Engine(model, index, PolicyConfig(), top_k=2, window=4, exclude="none")
    items = ["i0", "i1", None, "i2", "i1", "i3", "i0"]
    events = [
        BehaviourEvent(f"e{t}", "u", 1e9 + 60 * t, "search" if i is None else "click", i,
                       "tea" if i is None else None)
        for t, i in enumerate(items)
    ]  # fmt: skip
    got = []
    stored = None
    for t, e in enumerate(events):
        result = engine.process([Incoming(e, "ev:0", t, t)], {"u": stored})
        stored = result.profiles["u"]
        got.append(stored.interest.copy())
    catalog = Catalog(ITEMS)
    ev = collate([events], [gaps_seconds(events)], catalog, 32, lambda s: enc.encode([s])[0])
    feats = torch.from_numpy(np.stack([index.payload(i.item_id).features for i in ITEMS]))  # type: ignore[union-attr]
    with torch.inference_mode():
        vecs = net.item_vectors(feats)
        _, served = net.sequence(ev, feats, vecs)
    np.testing.assert_allclose(np.stack(got), served[0].numpy(), atol=1e-5)
    assert stored is not None
    query = engine.query(stored)
    bonus = net.readout.repeat.detach().numpy()  # type: ignore[union-attr]
    assert query.boost == pytest.approx({"i0": float(bonus[0]), "i3": float(bonus[1])})


def test_score_reads_the_catalog_matrix_in_place(saved: tuple[Path, DriftRecModel]) -> None:
    model = ServingModel.load(saved[0], device="cpu")
    items = np.random.default_rng(0).standard_normal((50, model.dim)).astype(np.float32)
    users = np.random.default_rng(1).standard_normal((3, model.dim)).astype(np.float32)
    seen: list[int] = []
    real = torch.from_numpy

    def spy(a: np.ndarray) -> torch.Tensor:
        t = real(a)
        seen.append(t.data_ptr())
        return t

    torch_from_numpy, torch.from_numpy = torch.from_numpy, spy  # type: ignore[assignment]
    try:
        got = model.score(users, items[:40])
    finally:
        torch.from_numpy = torch_from_numpy
    assert items.ctypes.data in seen  # the catalog's own memory, not a copy
    np.testing.assert_allclose(got, users @ items[:40].T, rtol=1e-5, atol=1e-5)
    frozen = items.copy()
    frozen.flags.writeable = False
    np.testing.assert_allclose(model.score(users, frozen), users @ items.T, rtol=1e-5, atol=1e-5)
