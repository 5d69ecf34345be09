"""The champion's live hit rate as the trainer sees it: counter increases per worker.

Workers export ``driftrec_live_list_outcomes_total{model_version, outcome}``. The trainer scrapes
every worker's endpoint and needs how many lists were judged *since its last judgement*. Summing
the workers first and subtracting sums is wrong twice: a worker that restarts begins its counters
again at zero (the sum drops, or rises by less than the truth, and the difference can be negative
or a hit rate outside [0, 1]), and a worker that misses a scrape drops out of one sum and comes
back with its whole history in the next.

So the increases are taken per worker (per scrape target), the way Prometheus' ``increase()``
treats a counter: a value below the last one seen means the counter started again from zero, and
its whole value is the increase; a worker that does not answer contributes nothing this time and
keeps its last values, so the lists it judged meanwhile count when it answers again. A series
that disappears (a retired model's series removed) is forgotten, and one that appears counts from
zero. A target's first answer counts from zero too: the trainer's first look judges the lists the
workers counted since they started.

A drop alone misses a restart whose counters grew past their old values before the next scrape
(Prometheus' ``increase()`` misses it too): the worker was judged to have counted only the
difference. Workers export ``process_start_time_seconds`` (prometheus_client's process collector
on the default registry), so a target whose start time changed restarted, whatever its counters.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from streams.errors import StreamsError

log = logging.getLogger(__name__)
OUTCOMES = "driftrec_live_list_outcomes"
START = "process_start_time_seconds"
Key = tuple[str, str]  # (model_version, outcome)
Sample = dict[Key, float]
#: Where a sample keeps the worker process's start time (not a counter; never summed).
START_KEY: Key = (START, "")


def parse_outcomes(text: str) -> Sample:
    """(model_version, outcome) -> count in one Prometheus exposition, and the process's start
    time under :data:`START_KEY` when it is exported."""
    out: Sample = {}
    for family in text_string_to_metric_families(text):
        if family.name == START:
            for s in family.samples:
                if s.name == START:
                    out[START_KEY] = s.value
        if family.name != OUTCOMES:
            continue
        for s in family.samples:
            if s.name == OUTCOMES + "_total":
                key = (s.labels["model_version"], s.labels["outcome"])
                out[key] = out.get(key, 0.0) + s.value
    return out


def scrape_outcomes(urls: Sequence[str], timeout_s: float = 5.0) -> dict[str, Sample | None]:
    """Each worker's counters, by URL; None for a worker that did not answer (logged)."""
    out: dict[str, Sample | None] = {}
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise StreamsError(f"metrics URL must be http(s): {url!r}")
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310  # checked
                text = resp.read().decode("utf-8")
            out[url] = parse_outcomes(text)
        except (OSError, ValueError) as exc:  # refused, timed out, HTTP error, not an exposition
            log.warning("metrics of %s unavailable: %s", url, exc)
            out[url] = None
    return out


@dataclass
class CounterIncreases:
    """The last values seen per target; :meth:`observe` returns the increase since then."""

    last: dict[str, Sample] = field(default_factory=dict)

    def observe(self, scrape: Mapping[str, Sample | None]) -> Sample:
        total: Sample = {}
        for target, sample in scrape.items():
            if sample is None:
                continue  # missed scrape: its lists count at the next answer
            before = self.last.get(target, {})
            started, was = sample.get(START_KEY), before.get(START_KEY)
            counters = {key: value for key, value in sample.items() if key != START_KEY}
            restarted = (started is not None and was is not None and started != was) or any(
                value < before.get(key, 0.0) for key, value in counters.items()
            )
            if restarted:
                log.info("metrics of %s: the worker restarted, counted from zero", target)
            for key, value in counters.items():
                inc = value if restarted else value - before.get(key, 0.0)
                total[key] = total.get(key, 0.0) + inc
            self.last[target] = dict(sample)
        return total


@dataclass
class HitRateWatch:
    """The champion's hit rate over the lists judged since the last judgement."""

    min_outcomes: int
    counters: CounterIncreases = field(default_factory=CounterIncreases)
    _since: Sample = field(default_factory=dict)

    def add(self, scrape: Mapping[str, Sample | None]) -> None:
        """Count one scrape of every target."""
        for key, inc in self.counters.observe(scrape).items():
            self._since[key] = self._since.get(key, 0.0) + inc

    def look(self, version: str) -> tuple[float, int] | None:
        """(rate, lists) once enough lists of ``version`` were judged since the last judgement."""
        hits = self._since.get((version, "hit"), 0.0)
        n = hits + self._since.get((version, "miss"), 0.0)
        if n < self.min_outcomes:
            return None
        self._since = {}
        return hits / n, int(n)

    def reset(self) -> None:
        """Forget what was judged so far (a new champion is judged on its own lists only)."""
        self._since = {}
