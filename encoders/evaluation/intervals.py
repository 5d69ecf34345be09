"""Mean and two-sided 95 % Student-t interval over seeds (``driftrec eval --seeds``,
``bench/seedtable.py``).

With n values the interval is ``mean ± t(0.975, n-1) * s / sqrt(n)``, ``s`` the sample standard
deviation. One value has no interval: its half-width is reported as 0.0 and ``n`` says why.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TypedDict

#: Two-sided 95 % Student-t quantiles t(0.975, df) by degrees of freedom (n - 1).
T95: dict[int, float] = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    15: 2.131,
    20: 2.086,
    30: 2.042,
}


class Summary(TypedDict):
    """One metric over seeds: the per-seed values, their mean and the 95 % half-width."""

    values: list[float]
    mean: float
    half_width: float
    n: int


def t95(df: int) -> float:
    """t(0.975, df); between tabulated values the next smaller df (a wider, safe interval);
    1.96 (the normal quantile) beyond 30."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df > 30:
        return 1.96
    return T95[max(k for k in T95 if k <= df)]


def interval(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of the 95 % t interval); half-width 0.0 for one value."""
    if not values:
        raise ValueError("no values")
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))


def summarise(values: Sequence[float]) -> Summary:
    """The values with their mean and 95 % half-width."""
    mean, half = interval(values)
    return Summary(values=[float(v) for v in values], mean=mean, half_width=half, n=len(values))


def fmt(mean: float, half: float, n: int, digits: int = 4) -> str:
    """``0.1234 ± 0.0056`` (``0.1234`` alone for one value)."""
    return f"{mean:.{digits}f} ± {half:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"
