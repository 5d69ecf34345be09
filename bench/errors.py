"""Errors of the benchmark suite: one base class, and the signal that a section cannot run yet."""

from __future__ import annotations


class BenchError(Exception):
    """A benchmark could not run or produced no usable measurement; the message says why."""


class SectionSkipped(BenchError):
    """A section's prerequisites are missing (e.g. a driftrec component not built or installed).

    The suite records the reason in the JSON and the table instead of failing the whole run.
    """
