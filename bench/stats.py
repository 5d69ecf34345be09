"""Small, dependency-free statistics for benchmark figures: medians with spread, percentiles.

Every published figure is the median of repeated runs; the spread (min, max) travels with it so a
reader can tell a stable figure from a noisy one.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """Median and spread of one figure over repeated runs."""

    median: float
    lo: float
    hi: float
    runs: int

    @property
    def spread(self) -> float:
        """Relative spread (hi - lo) / median; 0 for one run or a zero median."""
        if self.runs < 2 or self.median == 0:
            return 0.0
        return (self.hi - self.lo) / abs(self.median)

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.lo, "max": self.hi, "runs": self.runs}


def summarize(values: Sequence[float]) -> Summary:
    """Median, min and max of repeated measurements (at least one, all finite)."""
    if not values:
        raise ValueError("summarize needs at least one value")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ValueError(f"summarize got non-finite values {bad}")
    return Summary(
        median=float(statistics.median(values)),
        lo=float(min(values)),
        hi=float(max(values)),
        runs=len(values),
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between order statistics.

    Same definition as numpy's default ("linear"), written out so that the harness has no numpy
    dependency for its own bookkeeping.
    """
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(ordered[lo])
    frac = pos - lo
    return float(ordered[lo] * (1.0 - frac) + ordered[hi] * frac)


def latency_summary(values_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max and sample count of latencies in milliseconds."""
    return {
        "p50": percentile(values_ms, 50),
        "p95": percentile(values_ms, 95),
        "p99": percentile(values_ms, 99),
        "max": float(max(values_ms)),
        "n": float(len(values_ms)),
    }


def median_of_dicts(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Key-wise median of repeated runs' figure dicts (keys present in every run)."""
    if not runs:
        raise ValueError("median_of_dicts needs at least one run")
    keys = set(runs[0]).intersection(*runs[1:])
    return {k: float(statistics.median(r[k] for r in runs)) for k in sorted(keys)}


def repeat(fn: Callable[[], float], runs: int, warmup: int = 0) -> Summary:
    """Call ``fn`` ``warmup`` times (discarded), then ``runs`` times, and summarize the results."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    for _ in range(warmup):
        fn()
    return summarize([fn() for _ in range(runs)])


def rate(count: int, seconds: float) -> float:
    """Events per second; raises on a zero or negative interval instead of returning inf."""
    if seconds <= 0:
        raise ValueError(f"cannot compute a rate over {seconds} s")
    return count / seconds


def time_per_call(fn: Callable[[], object], *, blocks: int = 5, block_s: float = 0.05) -> Summary:
    """Seconds per call of ``fn``: median over ``blocks`` timed blocks, each of enough calls to
    last about ``block_s`` (sized on a first calibration call, like timeit's autorange)."""
    import time

    t0 = time.perf_counter()
    fn()  # warm-up and calibration
    once = max(time.perf_counter() - t0, 1e-7)
    loops = max(1, int(block_s / once))
    per_call = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        per_call.append((time.perf_counter() - t0) / loops)
    return summarize(per_call)
