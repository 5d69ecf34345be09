"""The packages' import directions: the layers a newcomer can rely on.

* ``streams/messages/`` (the message contracts and their codec) imports no Faust, no Kafka client,
  no torch, and neither ``encoders`` nor ``profiles``: every side may import it.
* ``encoders/`` (the model) and ``profiles/`` (per-user state and policy) import no Faust and no
  Kafka client, and from ``streams`` only ``streams.messages``.
* ``profiles/`` imports nothing from ``encoders/`` (the contracts they share live in
  ``profiles.contracts``), so importing it loads no torch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STREAMING = {"faust", "mode", "aiokafka", "kafka"}


def _imported(path: Path) -> set[str]:
    """Every absolute module name a file imports, at any depth (function-level imports too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(folder: str, bad: Callable[[str], bool]) -> dict[str, list[str]]:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"{folder}/ has no modules"
    out = {}
    for f in files:
        hits = sorted(m for m in _imported(f) if bad(m))
        if hits:
            out[str(f.relative_to(ROOT))] = hits
    return out


def _root(module: str) -> str:
    return module.split(".")[0]


def _streams_beyond_messages(module: str) -> bool:
    return _root(module) == "streams" and not (
        module == "streams.messages" or module.startswith("streams.messages.")
    )


@pytest.mark.parametrize("package", ["encoders", "profiles"])
def test_model_and_state_packages_import_no_faust_nor_kafka(package: str) -> None:
    assert _offenders(package, lambda m: _root(m) in STREAMING) == {}


@pytest.mark.parametrize("package", ["encoders", "profiles"])
def test_model_and_state_packages_import_only_the_messages_from_streams(package: str) -> None:
    assert _offenders(package, _streams_beyond_messages) == {}


def test_profiles_import_nothing_from_encoders() -> None:
    assert _offenders("profiles", lambda m: _root(m) == "encoders") == {}


def test_messages_import_no_streaming_no_torch_no_model() -> None:
    forbidden = STREAMING | {"torch", "transformers", "encoders", "profiles"}
    assert _offenders("streams/messages", lambda m: _root(m) in forbidden) == {}
    streams_side = _offenders("streams/messages", _streams_beyond_messages)
    assert streams_side == {}


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {_root(m) for m in out.split()}


def _package_modules(folder: str) -> list[str]:
    return [
        ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for f in sorted((ROOT / folder).rglob("*.py"))
    ]


def test_importing_profiles_loads_no_torch_and_no_streaming() -> None:
    loaded = _loaded_after_import(_package_modules("profiles"))
    assert "profiles" in loaded
    assert loaded & ({"torch", "transformers", "encoders"} | STREAMING) == set()


def test_importing_the_messages_loads_no_torch_and_no_streaming() -> None:
    loaded = _loaded_after_import(_package_modules("streams/messages"))
    assert "streams" in loaded
    assert loaded & ({"torch", "transformers", "encoders", "profiles"} | STREAMING) == set()


def test_the_import_check_sees_nested_and_from_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import faust\nfrom kafka.admin import KafkaAdminClient\n"
        "def f():\n    from streams.worker.app import app\n"
    )
    assert {_root(m) for m in _imported(bad)} & STREAMING == {"faust", "kafka"}
    assert {m for m in _imported(bad) if _streams_beyond_messages(m)} == {"streams.worker.app"}


def test_importing_torch_is_seen_by_the_subprocess_check() -> None:
    assert "torch" in _loaded_after_import(["encoders.serving"])
