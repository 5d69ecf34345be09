"""Drift and publish policy: thresholds, confirmation, triggers."""

from __future__ import annotations

import numpy as np
import pytest

from profiles.policy import DriftState, PolicyConfig, cosine_drift, decide


def test_cosine_drift_rows() -> None:
    a = np.array([[1, 0], [1, 0], [1, 0], [0, 0]], np.float32)
    b = np.array([[1, 0], [0, 1], [-1, 0], [1, 0]], np.float32)
    assert np.allclose(cosine_drift(a, b), [0.0, 1.0, 2.0, 1.0])


def test_threshold_is_clipped_and_adapts_to_a_noisy_user() -> None:
    cfg = PolicyConfig(floor=0.05, ceiling=0.5, k=2.0, alpha=0.2)
    steady, noisy = DriftState.new(cfg), DriftState.new(cfg)
    rng = np.random.default_rng(0)
    for _ in range(50):
        steady.update(0.01)
        noisy.update(float(rng.uniform(0.1, 0.4)))
    assert steady.get() == pytest.approx(0.05, abs=0.02)
    assert steady.get() >= cfg.floor
    assert noisy.get() > steady.get() + 0.1
    assert noisy.get() <= cfg.ceiling


def test_streak_counts_consecutive_events_above_threshold() -> None:
    cfg = PolicyConfig(confirm=2)
    s = DriftState.new(cfg)
    for _ in range(20):
        s.update(0.01)
    s.update(0.9)
    assert s.streak == 1
    s.update(0.02)
    assert s.streak == 0
    s.update(0.9).update(0.9)
    assert s.streak == 2
    s.published()
    assert s.streak == 0


def test_decide_rules_in_order() -> None:
    cfg = PolicyConfig(confirm=2, refresh_events=10, refresh_seconds=100)
    kw = {"streak": 0, "events_since_list": 1, "ts": 1000.0, "list_ts": 990.0}
    assert decide(cfg, has_list=False, **kw) == "cold_start"  # type: ignore[arg-type]
    assert decide(cfg, has_list=True, **kw) is None  # type: ignore[arg-type]
    assert decide(cfg, has_list=True, **{**kw, "streak": 2}) == "drift"  # type: ignore[arg-type]
    assert decide(cfg, has_list=True, **{**kw, "events_since_list": 10}) == "refresh"  # type: ignore[arg-type]
    assert decide(cfg, has_list=True, **{**kw, "ts": 1090.0}) == "refresh"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{"floor": 0.6, "ceiling": 0.5}, {"alpha": 0.0}, {"confirm": 0}, {"refresh_seconds": 0}],
)
def test_bad_config_names_the_value(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PolicyConfig(**kwargs)  # type: ignore[arg-type]


def test_one_outlier_barely_moves_the_threshold() -> None:
    s = DriftState.new(PolicyConfig(alpha=0.1))
    for _ in range(30):
        s.update(0.1)
    before = s.get()
    s.update(1.5)  # a stray click far away
    assert s.streak == 1
    assert s.get() == before  # pending: a real shift right after still stands out
    s.update(0.1)  # the streak ends: the outlier is folded in winsorised at the threshold
    assert s.streak == 0
    assert 0 < s.get() - before < 0.05


def test_a_shift_that_builds_up_is_judged_against_the_settled_past() -> None:
    # A real interest switch often raises drift over a few events, each a little above the last.
    # Folding the first of them into the statistics would lift the threshold over the second,
    # and the streak would restart; the threshold must stay where the user's past put it.
    s = DriftState.new(PolicyConfig(alpha=0.1, floor=0.0, confirm=2))
    for k in range(40):
        s.update(0.08 if k % 2 else 0.12)
    settled = s.get()
    s.update(settled + 0.001)
    assert s.streak == 1
    assert s.get() == settled
    s.update(settled + 0.002)
    assert s.streak == 2  # confirmed: a drift list
    s.published()  # the two pending events are folded in, each as the threshold's value
    assert s.streak == 0
    assert s.get() > settled  # the user moved: their threshold rises (wanderers need more)
