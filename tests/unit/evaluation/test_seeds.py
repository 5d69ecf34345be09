"""``driftrec eval --seeds``: run plan, document shape and intervals, with cheap stand-in models
on a tiny synthetic folder (no training, no language model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from encoders.data.synth import SynthSpec, generate
from encoders.evaluation.base import F32, EvaluationError, TextEncodeFn
from encoders.evaluation.baselines import Popularity
from encoders.evaluation.intervals import interval
from encoders.evaluation.runner import EvalContext, EvalOptions, ModelFactory, run_evaluation
from encoders.evaluation.seedreport import render_seeds_text, write_seeds_chart
from encoders.evaluation.seeds import plan, run_seeds
from streams.cli import cli

SPEC = SynthSpec(users=12, items=30, topics=3, min_events=8, max_events=14, image_dim=4)


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    generate(SPEC, seed=3).write(folder)
    return folder


class NoisyPop(Popularity):
    """Popularity plus seeded noise: a stand-in for a model whose result depends on the seed."""

    name = "driftrec"

    def __init__(self, ctx: EvalContext) -> None:
        super().__init__(ctx.catalog, ctx.split.train_events())
        rng = np.random.default_rng(ctx.options.seed)
        self._counts = self._counts + rng.normal(0, 3.0, self._counts.shape).astype(np.float32)


FACTORIES: dict[str, ModelFactory] = {
    "pop": lambda ctx: Popularity(ctx.catalog, ctx.split.train_events()),
    "driftrec": NoisyPop,
}


def _no_text(_ctx: EvalContext) -> TextEncodeFn:
    def encode(texts: Sequence[str]) -> F32:
        return np.zeros((len(texts), 2), dtype=np.float32)

    return encode


def test_plan_runs_deterministic_models_once() -> None:
    runs = plan(["pop", "driftrec", "repeat", "sasrec"], [4, 5])
    assert runs == [(("pop", "repeat"), 4), (("driftrec",), 4), (("driftrec",), 5),
                    (("sasrec",), 4), (("sasrec",), 5)]  # fmt: skip
    with pytest.raises(EvaluationError):
        plan(["pop"], [1, 1])
    with pytest.raises(EvaluationError):
        plan(["pop"], [])


def test_document_has_per_seed_values_mean_and_interval(synth_dir: Path, tmp_path: Path) -> None:
    options = EvalOptions(models=("pop", "driftrec"), ks=(5, 10), stream=False, progress=False)
    updates: list[dict[str, Any]] = []
    doc = run_seeds(
        synth_dir, options, [0, 1, 2], factories=FACTORIES, encoder_factory=_no_text,
        on_update=lambda d: updates.append(
            {"complete": d["complete"], "pending": list(d["pending"]), "models": list(d["models"])}
        ),
    )  # fmt: skip
    # after every run: first pop alone with the three driftrec seeds pending, then one seed more
    assert [u["complete"] for u in updates] == [False, False, False, True]
    assert updates[0]["models"] == ["pop"]
    assert updates[0]["pending"] == [{"model": "driftrec", "seed": s} for s in (0, 1, 2)]
    assert doc["pending"] == [] and doc["complete"] is True
    assert list(doc["models"]) == ["pop", "driftrec"]
    assert doc["protocol"]["seeds"]["seeds"] == [0, 1, 2]
    assert doc["protocol"]["seeds"]["seeded_models"] == ["driftrec"]
    assert "seed" not in doc["protocol"]["options"]
    pop, drift = doc["models"]["pop"], doc["models"]["driftrec"]
    assert pop["deterministic"] is True and pop["seeds"] == [0]
    assert drift["deterministic"] is False and drift["seeds"] == [0, 1, 2]
    assert set(drift["per_seed"]) == {"0", "1", "2"}
    for proto in ("masked", "unmasked"):
        ndcg = pop["by_protocol"][proto]["NDCG@10"]
        assert ndcg["n"] == 1 and ndcg["half_width"] == 0.0
        # every per-seed value is what a one-seed evaluation gives, and the interval is over them
        single = [
            run_evaluation(synth_dir, EvalOptions(models=("driftrec",), ks=(5, 10), stream=False,
                           progress=False, seed=s), model_dir=None, factories=FACTORIES,
                           encoder_factory=_no_text)["models"]["driftrec"]["by_protocol"][proto]
            for s in (0, 1, 2)
        ]  # fmt: skip
        for metric in ("HR@5", "NDCG@10", "MRR@10"):
            summary = drift["by_protocol"][proto][metric]
            assert summary["values"] == pytest.approx([m[metric] for m in single])
            mean, half = interval(summary["values"])
            assert summary["mean"] == pytest.approx(mean) and summary["n"] == 3
            assert summary["half_width"] == pytest.approx(half)
        assert drift["by_protocol"][proto]["users"] == single[0]["users"]
    assert len(set(drift["by_protocol"]["unmasked"]["NDCG@10"]["values"])) > 1  # seeds differ
    text = render_seeds_text(doc)
    assert "history masked" in text and "history not masked" in text
    assert "fixed" in text and "±" in text and "INCOMPLETE" not in text
    png = tmp_path / "seeds.png"
    write_seeds_chart(doc, png)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_an_unfinished_document_says_so(synth_dir: Path) -> None:
    options = EvalOptions(models=("pop", "driftrec"), stream=False, progress=False)
    seen: list[dict[str, Any]] = []

    def stop_after_two(doc: dict[str, Any]) -> None:
        seen.append(doc)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_seeds(synth_dir, options, [7, 8], factories=FACTORIES, encoder_factory=_no_text,
                  on_update=stop_after_two)  # fmt: skip
    doc = seen[-1]
    assert doc["complete"] is False and doc["pending"] == [{"model": "driftrec", "seed": 8}]
    assert doc["models"]["driftrec"]["seeds"] == [7]
    assert "INCOMPLETE: not run: driftrec seed 8" in render_seeds_text(doc)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "0,x"], "comma-separated seeds"),
        (["--seeds", "0"], "a count N"),
        (["--seeds", "1,1"], "distinct"),
        (["--seeds", "2", "--no-train"], "--seeds trains every seeded model here: drop --no-train"),
    ],
)
def test_bad_seed_options_are_one_line_errors(
    synth_dir: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["eval", "--data", str(synth_dir), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
