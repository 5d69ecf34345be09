"""Data shipped inside the package: a small Online Retail sample for the demo and the tests.

``encoders/samples/online_retail/`` holds ``items.jsonl``, ``events.jsonl`` (a data folder, see
:mod:`encoders.data.folder`) and ``CREDIT.md`` (CC BY 4.0 credit and how the sample is derived).
``encoders/samples/online_retail_model/`` is a checkpoint trained on it (``MODEL.md`` says how),
the model `driftrec demo` serves.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SAMPLES = ("online_retail",)


def sample_path(name: str = "online_retail") -> Path:
    """The folder of a shipped sample (a data folder readable by ``read_folder``)."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; shipped samples: {SAMPLES}")
    path = Path(str(files("encoders.samples") / name))
    if not (path / "events.jsonl").is_file():
        raise FileNotFoundError(
            f"sample {name!r} is missing its files at {path}; reinstall driftrec"
        )
    return path


def demo_model_path() -> Path:
    """The checkpoint folder of the model trained on the shipped sample (for the demo)."""
    path = Path(str(files("encoders.samples") / "online_retail_model"))
    if not (path / "checkpoint.json").is_file():
        raise FileNotFoundError(f"the demo model is missing at {path}; reinstall driftrec")
    return path
