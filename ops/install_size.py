"""Disk size of an installed dependency venv, split by the lock each package comes from.

    python ops/install_size.py VENV [VENV ...]    # e.g. $DRIFTREC_HOME/venvs/deps-<hash>

For each venv: the total on disk (like ``du -s``, with pip's own files and caches) and, per lock
file (requirements.lock, -gpu, -dev), the bytes of the packages of that lock that are installed
(their RECORD files). Written to bench/results/install_size.txt by docs/operations.md's command.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30
LOCKS = ["requirements.lock", "requirements-gpu.lock", "requirements-dev.lock"]


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_names(lock: str) -> set[str]:
    lines = (ROOT / lock).read_text().splitlines()
    return {canon(line.split("==")[0]) for line in lines if "==" in line and "#" not in line}


def installed(site: Path) -> dict[str, int]:
    """{canonical name: bytes of its files} of every distribution in ``site``."""
    sizes: dict[str, int] = {}
    for info in site.glob("*.dist-info"):
        meta = (info / "METADATA").read_text(errors="replace")
        found = re.search(r"^Name: (.+)$", meta, flags=re.M)
        if found is None:
            continue
        name = canon(found.group(1).strip())
        total = 0
        with (info / "RECORD").open() as record:
            for row in csv.reader(record):
                path = (site / row[0]).resolve()
                if path.is_file():
                    total += path.stat().st_size
        sizes[name] = total
    return sizes


def main() -> None:
    for venv in map(Path, sys.argv[1:]):
        site = next(venv.glob("lib/python3*/site-packages"))
        du = subprocess.run(
            ["du", "-s", "-B1", str(venv.resolve())], capture_output=True, text=True
        )
        total = int(du.stdout.split()[0])
        print(f"{venv.name}: {total / GIB:.2f} GiB on disk (du -s)")
        sizes = installed(site)
        for lock in LOCKS:
            names = lock_names(lock) & sizes.keys()
            if names:
                got = sum(sizes[n] for n in names)
                print(f"  {lock:24s} {len(names):3d} packages {got / GIB:6.2f} GiB")
        for big in ("torch", "triton"):
            if big in sizes:
                print(f"    of which {big}: {sizes[big] / GIB:.2f} GiB")
        nvidia = sum(v for k, v in sizes.items() if k.startswith("nvidia-"))
        print(f"    of which nvidia-* (CUDA libraries): {nvidia / GIB:.2f} GiB")


if __name__ == "__main__":
    main()
