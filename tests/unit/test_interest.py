"""The interest model: step/sequence parity, long-term interest, determinism, config validation."""

from __future__ import annotations

import pytest
import torch

from encoders.config import ConfigError, ModelConfig
from encoders.interest import long_term_sequence, served_interest, update_long_term
from encoders.model import DriftRecModel, EventTensors

B, T, N = 3, 7, 11


def make_model(seed: int = 0, **overrides: object) -> DriftRecModel:
    config = ModelConfig(text_dim=8, dim=16, action_dim=4, attributes=("price",), **overrides)  # type: ignore[arg-type]
    torch.manual_seed(seed)
    return DriftRecModel(config).eval()


def random_events(config: ModelConfig, seed: int = 1) -> EventTensors:
    g = torch.Generator().manual_seed(seed)
    item = torch.randint(0, N, (B, T), generator=g)
    item[0, 2] = -1  # an item-less event (a search)
    has_text = (torch.rand(B, T, generator=g) < 0.3).float()
    return EventTensors(
        item=item,
        action=torch.randint(0, config.n_actions, (B, T), generator=g),
        gap_s=torch.rand(B, T, generator=g) * 1e5,
        text_vec=torch.randn(B, T, config.text_dim, generator=g) * has_text.unsqueeze(-1),
        has_text=has_text,
        mask=torch.ones(B, T, dtype=torch.bool),
    )


@pytest.mark.parametrize("long_term", ["mean", "ema"])
def test_step_equals_sequence(long_term: str) -> None:
    model = make_model(long_term=long_term)
    cfg = model.config
    ev = random_events(cfg)
    feats = torch.randn(N, cfg.feature_dim)
    with torch.inference_mode():
        vecs = model.item_vectors(feats, torch.arange(N))
        h_seq, served_seq = model.sequence(ev, feats, vecs)
        x = model.fuse(ev, feats, vecs)  # (B, T, D)
        state = model.lstm.initial_state(B)
        long = torch.zeros(B, cfg.dim)
        for t in range(T):
            h, state = model.step_events(x[:, t], state)
            long = update_long_term(long, torch.full((B,), t), h, cfg)
            torch.testing.assert_close(h, h_seq[:, t], atol=1e-5, rtol=0)
            torch.testing.assert_close(
                served_interest(h, long, cfg), served_seq[:, t], atol=1e-5, rtol=0
            )


def test_long_term_rules_by_hand() -> None:
    h = torch.tensor([[[2.0], [4.0], [0.0]]])  # (1, 3, 1)
    mean = ModelConfig(long_term="mean")
    assert long_term_sequence(h, mean).flatten().tolist() == pytest.approx([2.0, 3.0, 2.0])
    ema = ModelConfig(long_term="ema", half_life_events=1.0)  # decay 0.5 per event
    assert long_term_sequence(h, ema).flatten().tolist() == pytest.approx([2.0, 3.0, 1.5])


def test_padding_does_not_change_real_positions() -> None:
    model = make_model()
    cfg = model.config
    ev = random_events(cfg)
    feats = torch.randn(N, cfg.feature_dim)
    with torch.inference_mode():
        vecs = model.item_vectors(feats)
        full, _ = model.sequence(ev, feats, vecs)
        short = EventTensors(*(getattr(ev, f)[:, :4] for f in EventTensors.__dataclass_fields__))
        cut, _ = model.sequence(short, feats, vecs)
    torch.testing.assert_close(cut, full[:, :4], atol=1e-6, rtol=0)


def test_same_seed_same_model_and_outputs() -> None:
    a, b, c = make_model(seed=3), make_model(seed=3), make_model(seed=4)
    cfg = a.config
    ev = random_events(cfg)
    feats = torch.randn(N, cfg.feature_dim)
    with torch.inference_mode():
        out_a = a.sequence(ev, feats, a.item_vectors(feats))[1]
        out_b = b.sequence(ev, feats, b.item_vectors(feats))[1]
        out_c = c.sequence(ev, feats, c.item_vectors(feats))[1]
    assert torch.equal(out_a, out_b)
    assert not torch.allclose(out_a, out_c)


def test_unknown_item_ids_fall_back_to_content() -> None:
    model = make_model(n_id_items=5)
    feats = torch.randn(2, model.config.feature_dim)
    with torch.inference_mode():
        known = model.item_vectors(feats, torch.tensor([0, 1]))
        unknown = model.item_vectors(feats, torch.tensor([-1, 99]))
        content = model.tower.mlp(feats)
    torch.testing.assert_close(unknown, content)
    assert not torch.allclose(known, content)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dim": 0}, "dim must be a positive int, got 0"),
        ({"dropout": 1.5}, "dropout must be in"),
        ({"long_term": "median"}, "long_term must be"),
        ({"half_life_events": 0.0}, "half_life_events"),
        ({"short_weight": -0.1}, "short_weight"),
        ({"modalities": (("image", 0),)}, "modality 'image'"),
        ({"attributes": ("a", "a")}, "duplicate"),
        ({"n_id_items": -1}, "n_id_items"),
    ],
)
def test_config_validation_names_the_bad_value(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**kwargs)  # type: ignore[arg-type]


def test_config_json_round_trip() -> None:
    cfg = ModelConfig(modalities=(("image", 8),), attributes=("price",), n_id_items=4)
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    assert cfg.feature_dim == 384 + 8 + 1 + 2
    with pytest.raises(ConfigError, match="unknown model config keys"):
        ModelConfig.from_json({**cfg.to_json(), "heads": 4})
