"""Score blending (the validation-gated lever of bench/blendgate.py) on hand-made scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from encoders.data.split import leave_last_out
from encoders.evaluation.base import ItemIndex
from encoders.evaluation.baselines import Popularity
from encoders.evaluation.blend import FixedScores, blend, stage_scores, standardise
from encoders.evaluation.offline import PROTOCOLS, evaluate_offline
from streams.messages.records import BehaviourEvent, ItemRecord

CATALOG = ItemIndex([ItemRecord(item_id=i, title=f"item {i}") for i in "abcdef"])


def _log() -> list[BehaviourEvent]:
    seqs = {"u1": "abcab", "u2": "cdecd", "u3": "abdef", "u4": "fedcb"}
    return [
        BehaviourEvent(f"{u}-{k}", u, 1_700_000_000.0 + 60 * k, "view", item)
        for u, items in seqs.items()
        for k, item in enumerate(items)
    ]


def test_standardise_and_blend() -> None:
    a = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]], dtype=np.float32)
    z = standardise(a)
    np.testing.assert_allclose(z[0], [-1.2247449, 0.0, 1.2247449], rtol=1e-5)
    np.testing.assert_array_equal(z[1], [0.0, 0.0, 0.0])  # a constant row has no direction
    b = np.array([[30.0, 20.0, 10.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(blend(a, b, 1.0)[0], [0.0, 0.0, 0.0], atol=1e-5)  # scale-free
    np.testing.assert_allclose(blend(a, b, 0.0), z)
    np.testing.assert_allclose(blend(a, b, math.inf), standardise(b))


def test_fixed_scores_rank_like_the_model_they_came_from() -> None:
    split = leave_last_out(_log())
    pop = Popularity(CATALOG, split.train_events())
    for stage in ("valid", "test"):
        users, scores = stage_scores(pop, split, stage)
        assert scores.shape == (len(split.users), len(CATALOG))
        direct = evaluate_offline(pop, split, CATALOG, stage=stage, protocols=PROTOCOLS)
        fixed = evaluate_offline(
            FixedScores("fixed", users, blend(scores, scores, 0.0)),
            split, CATALOG, stage=stage, protocols=PROTOCOLS,
        )  # fmt: skip
        assert fixed.by_protocol == direct.by_protocol
        for p in PROTOCOLS:
            np.testing.assert_array_equal(fixed.ranks_by_protocol[p], direct.ranks_by_protocol[p])


def test_fixed_scores_refuse_a_user_without_events() -> None:
    model = FixedScores("fixed", ["u"], np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="no score row"):
        model.scores(model.interest(model.initial_states(1)))
