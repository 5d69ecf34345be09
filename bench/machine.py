"""What the benchmark ran on: CPU, cores, memory, software versions, device.

Figures mean little without the machine; every JSON and table carries this block.
"""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _pkg(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def usable_cores() -> int:
    """Cores this process may run on (affinity), not the host's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _openblas_libs() -> list[Path]:
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    return sorted({Path(line.split()[-1]) for line in maps if "openblas" in line.lower()})


def set_blas_threads(n: int) -> int | None:
    """Set numpy's OpenBLAS thread count at run time (as threadpoolctl does); returns the count
    now in force, or None when no OpenBLAS is loaded. Small products with more threads than free
    cores spin: 1 x 64 by 64 x 10k took 10 ms with 2 threads on the busy 2-core box, 0.9 ms with 1.
    """
    import ctypes

    import numpy  # noqa: F401 - loads the library

    for path in _openblas_libs():
        lib = ctypes.CDLL(str(path))
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    setter(ctypes.c_int(n))
                    return int(getter())
    return None


def blas_threads() -> int | None:
    """numpy's OpenBLAS thread count (None when numpy has no OpenBLAS)."""
    import ctypes

    import numpy  # noqa: F401 - loads the library

    for path in _openblas_libs():
        lib = ctypes.CDLL(str(path))
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
            getter = getattr(lib, name, None)
            if getter is not None:
                return int(getter())
    return None


def device_name() -> str:
    """``cuda:<name>`` when torch sees a GPU, else ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return "cpu"


def machine_info(kafka_version: str | None = None) -> dict[str, Any]:
    """The machine block of the benchmark JSON."""
    import torch

    return {
        "cpu": _cpu_model(),
        "cores": usable_cores(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "blas_threads": blas_threads(),
        "faust": _pkg("faust-streaming"),
        "aiokafka": _pkg("aiokafka"),
        "kafka": kafka_version,
        "device": device_name(),
        "load_avg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
