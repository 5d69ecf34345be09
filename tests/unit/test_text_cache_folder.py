"""One text-vector cache folder for train, eval, the trainer and the workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from streams.cli.main import cli
from streams.settings import Settings


def test_default_is_under_home_and_the_variable_moves_it(tmp_path: Path) -> None:
    assert Settings(home=tmp_path).cache_dir == tmp_path / "cache"
    moved = tmp_path / "shared-vectors"
    assert Settings(home=tmp_path, text_cache_dir=moved).cache_dir == moved


def test_train_eval_and_worker_resolve_the_same_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command stops at the point where it opens the cache; all name one folder."""
    from encoders import textcache
    from encoders.evaluation import runner
    from streams.worker import runtime

    monkeypatch.setenv("DRIFTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DRIFTREC_TEXT_CACHE_DIR", raising=False)
    opened: dict[str, Path] = {}

    class Stop(Exception):
        pass

    def cache_for(who: str) -> Any:
        def open_(folder: Path, *args: Any, **kwargs: Any) -> Any:
            opened[who] = Path(folder)
            raise Stop

        return open_

    data = Path(__file__).resolve().parents[2] / "encoders" / "samples" / "online_retail"
    # train: the TextVectorCache it opens for the driftrec model's encoder
    monkeypatch.setattr(textcache, "TextVectorCache", cache_for("train"))
    result = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert isinstance(result.exception, Stop), result.output

    # eval: the cache_dir its options carry
    def run_evaluation(data_dir: Path, options: Any, **kwargs: Any) -> Any:
        opened["eval"] = options.cache_dir
        raise Stop

    monkeypatch.setattr(runner, "run_evaluation", run_evaluation)
    result = CliRunner().invoke(cli, ["eval", "--data", str(data), "--no-stream"])
    assert isinstance(result.exception, Stop), result.output

    # the worker: the folder its model loader hands to ServingModel.load
    def load(model_dir: Path, **kwargs: Any) -> Any:
        opened["worker"] = kwargs["cache_dir"]
        raise Stop

    monkeypatch.setattr(runtime.ServingModel, "load", load)
    with pytest.raises(Stop):
        runtime.load_model(Settings())
    assert opened == dict.fromkeys(("train", "eval", "worker"), tmp_path / "home" / "cache")
