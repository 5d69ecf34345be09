"""Ratios with their runs, and targets judged on every run, not on the median alone.

A ratio measured in one suite run comes from paired runs (A and B alternating), so it has as many
values as rounds; its figure is ``{median, min, max, runs}``. A target is **met** only when every
run meets it; when some runs meet it and others do not the runs *straddle* the goal, and the
target is "not met" (with the spread shown), as it is when no run meets it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.stats import summarize

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


def spread(values: Sequence[float]) -> dict[str, Any]:
    """``{median, min, max, runs, values}`` of repeated figures (at least one, all finite)."""
    s = summarize(values)
    return s.to_json() | {"values": [float(v) for v in values]}


def ratio_runs(
    runs: Sequence[Mapping[str, float]], numerator: str, denominator: str
) -> list[float]:
    """Per-round ratios ``run[numerator] / run[denominator]`` (rounds missing either are left
    out; a zero denominator is an error, not an infinite ratio)."""
    out = []
    for run in runs:
        if run.get(numerator) is None or run.get(denominator) is None:
            continue
        if run[denominator] == 0:
            raise ValueError(f"{denominator} is 0 in a run: no ratio")
        out.append(run[numerator] / run[denominator])
    return out


@dataclass(frozen=True)
class Goal:
    """``value <op> threshold``, e.g. ``Goal(">=", 0.9, "x")``."""

    op: str
    threshold: float
    unit: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unknown comparison {self.op!r}; use one of {sorted(_OPS)}")

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.threshold)

    def text(self) -> str:
        return f"{self.op} {self.threshold:g}{self.unit}"


def judge(name: str, goal: Goal, values: Sequence[float] | None, how: str = "") -> dict[str, Any]:
    """One target's row: its goal, the runs' median and spread, and the verdict.

    ``met`` is True when every run holds, False when any does not (``straddles`` tells whether
    some runs held), None when nothing was measured.
    """
    row: dict[str, Any] = {"name": name, "goal": goal.text(), "how": how}
    if not values:
        return row | {"median": None, "min": None, "max": None, "runs": 0, "met": None}
    s = summarize(values)
    held = [goal.holds(v) for v in values]
    return row | {
        "median": s.median,
        "min": s.lo,
        "max": s.hi,
        "runs": s.runs,
        "values": [float(v) for v in values],
        "met": all(held),
        "straddles": any(held) and not all(held),
    }


def verdict_text(row: Mapping[str, Any]) -> str:
    """``met``, ``not met``, ``not met (runs straddle the goal)`` or ``not measured``."""
    if row.get("met") is None:
        return "not measured"
    if row["met"]:
        return "met"
    return "not met (runs straddle the goal)" if row.get("straddles") else "not met"
