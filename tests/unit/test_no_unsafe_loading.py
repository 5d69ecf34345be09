"""Nothing untrusted is deserialised into code: checkpoints are safetensors + JSON, text encoders
load safetensors weights only, and no package calls pickle-based loaders or eval/exec.

Two kinds of proof: an AST scan of every package module (cheap, catches a new call the day it is
written), and behaviour: folders whose weights are a pickle that would create a file when
unpickled are refused, and the file never appears.
"""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import pytest

from encoders.checkpoint import META_FILE, WEIGHTS_FILE, CheckpointError, load_checkpoint
from encoders.serving import ServingModel
from encoders.textenc import TextEncoder, TextEncoderError
from tests.unit.tinylm import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("streams", "encoders", "profiles", "bench")
#: Modules whose import alone means pickle-style deserialisation.
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal"}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__"}


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                out.append((f.id, node))
            elif isinstance(f, ast.Attribute):
                base = f.value.id if isinstance(f.value, ast.Name) else "?"
                out.append((f"{base}.{f.attr}", node))
    return out


def _kw(call: ast.Call, name: str) -> object:
    for kw in call.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return None


def problems(source: str, where: str) -> list[str]:
    """Unsafe deserialisation in one module's source."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [f"{where}: imports {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES]
    for name, call in _calls(tree):
        line = f"{where}:{call.lineno}"
        if name in FORBIDDEN_BUILTINS:
            found.append(f"{line}: calls {name}()")
        elif name.endswith("torch.load") or name == "torch.load":
            if _kw(call, "weights_only") is not True:
                found.append(f"{line}: torch.load without weights_only=True")
        elif name.endswith(".load") and name.split(".")[0] in {"np", "numpy"}:
            if _kw(call, "allow_pickle") is True:
                found.append(f"{line}: numpy load with allow_pickle=True")
        elif name in {"yaml.load", "yaml.load_all", "yaml.unsafe_load", "joblib.load"}:
            found.append(f"{line}: {name}")
        elif name.endswith("from_pretrained") and _kw(call, "trust_remote_code") is True:
            found.append(f"{line}: from_pretrained(trust_remote_code=True)")
    return found


def test_no_package_module_deserialises_untrusted_code() -> None:
    found = []
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(files) > 40
    for path in files:
        found += problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\npickle.loads(b'')",
        "from dill import loads",
        "import torch\ntorch.load('m.pt')",
        "import torch\ntorch.load('m.pt', weights_only=False)",
        "import numpy as np\nnp.load('a.npy', allow_pickle=True)",
        "eval('1+1')",
        "import yaml\nyaml.load(open('x'))",
        "AutoModel.from_pretrained('x', trust_remote_code=True)",
    ],
)
def test_the_scan_catches_each_unsafe_form(source: str) -> None:
    assert problems(source, "bad.py")


def test_the_scan_allows_the_safe_forms() -> None:
    ok = "import torch\ntorch.load('m.pt', weights_only=True)\nnet.eval()\nnp.load('a.npy')\n"
    assert problems(ok, "ok.py") == []


class _Payload:
    """Unpickling this creates ``marker``: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))  # type: ignore[return-value]


def _poison(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"weight": _Payload(marker)}))


def test_a_checkpoint_with_pickled_weights_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    model = tmp_path / "model"
    model.mkdir()
    _poison(model / "pytorch_model.bin", marker)
    (model / META_FILE).write_text(json.dumps({"format": 1, "kind": "driftrec", "config": {}}))
    with pytest.raises(CheckpointError, match=WEIGHTS_FILE):
        load_checkpoint(model)
    with pytest.raises(CheckpointError):
        ServingModel.load(model, device="cpu")
    # A pickle renamed to model.safetensors is not read as a pickle either.
    _poison(model / WEIGHTS_FILE, marker)
    with pytest.raises(CheckpointError):
        load_checkpoint(model)
    assert not marker.exists()


def test_a_text_encoder_with_pickled_weights_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    folder = build_tiny_model(tmp_path / "tiny")
    (folder / "model.safetensors").unlink()
    _poison(folder / "pytorch_model.bin", marker)
    with pytest.raises(TextEncoderError):
        TextEncoder(folder, device="cpu")
    assert not marker.exists()
