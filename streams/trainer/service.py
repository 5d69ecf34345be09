"""``driftrec trainer``: retrain on a schedule or when the champion's live hit rate falls.

The service wakes every ``check_every_s``. It runs a round (:func:`streams.trainer.candidate.
run_round`) when

* the schedule is due (``every_s`` since the last round), or
* the champion's live hit rate over the lists judged since the last look is below ``threshold``,
  with at least ``min_outcomes`` lists judged (so a quiet minute decides nothing), and the last
  round is at least ``cooldown_s`` old (a freshly promoted model needs time to show its effect).

The live hit rate comes from the workers' Prometheus endpoints (``metrics_urls``): the counters
``driftrec_live_list_outcomes_total{model_version, outcome}``, their increases taken per worker
and then summed (:mod:`streams.trainer.hitwatch`: restarts and missed scrapes handled as Prometheus'
``increase()`` does) — what a Prometheus alert would compute, without needing a Prometheus server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from encoders.textenc import TextEncoder
from encoders.training.loop import TrainConfig
from streams.errors import StreamsError
from streams.registry.transport import Registry
from streams.settings import Settings
from streams.trainer.candidate import Verdict, make_encoder, run_round
from streams.trainer.hitwatch import HitRateWatch, scrape_outcomes
from streams.trainer.logdata import read_log

log = logging.getLogger(__name__)


@dataclass
class TrainerService:
    """The loop's trainer; ``step()`` is one look, ``run()`` looks forever."""

    settings: Settings
    since_s: float
    train_config: TrainConfig
    every_s: float | None = None
    threshold: float | None = None
    metrics_urls: Sequence[str] = ()
    min_outcomes: int = 200
    cooldown_s: float = 300.0
    holdout_frac: float = 0.2
    min_gain: float = 0.0
    seed: int = 0
    clock: Callable[[], float] = time.time
    last_round: float | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    #: The champion's (hit rate, lists judged) at the last judgement.
    last_look: tuple[float, int] | None = None
    _encoder: TextEncoder | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.every_s is None and self.threshold is None:
            raise ValueError("give a schedule (--every) or a hit-rate threshold, or both")
        if self.threshold is not None and not self.metrics_urls:
            raise ValueError("a hit-rate threshold needs the workers' --metrics-url")
        self.registry = Registry(self.settings)
        self.watch = HitRateWatch(self.min_outcomes)
        # Training shares the machine with workers: DRIFTREC_TORCH_THREADS caps it (OpenMP
        # spinning on a busy box makes small-batch training several times slower with more).
        torch.set_num_threads(self.settings.torch_threads)

    def why_now(self) -> str | None:
        """The reason to run a round now, or None."""
        now = self.clock()
        since_last = None if self.last_round is None else now - self.last_round
        if self.every_s is not None and (since_last is None or since_last >= self.every_s):
            return "schedule"
        if self.threshold is None:
            return None
        champion = self.registry.state().champion
        self.watch.add(scrape_outcomes(self.metrics_urls))
        if champion is None:
            return None
        if since_last is not None and since_last < self.cooldown_s:
            self.watch.reset()  # judge a new champion on its own lists only
            return None
        looked = self.watch.look(champion)
        if looked is None:
            return None
        rate, n = looked
        self.last_look = looked
        log.info("champion %s: live hit rate %.3f over %d lists", champion, rate, n)
        if rate < self.threshold:
            return f"live hit rate {rate:.3f} < {self.threshold:.3f} over {n} lists"
        return None

    def round(self, why: str) -> Verdict:
        log.info("trainer round (%s): reading the last %.0fs of the log", why, self.since_s)
        now = self.clock()
        data = read_log(self.settings, now - self.since_s, progress=self.train_config.progress)
        if self._encoder is None:
            self._encoder = make_encoder(self.settings, self.train_config.device)
        verdict = run_round(
            self.settings,
            data,
            registry=self.registry,
            train_config=self.train_config,
            holdout_frac=self.holdout_frac,
            min_gain=self.min_gain,
            seed=self.seed,
            encoder=self._encoder,
        )
        self.last_round = self.clock()
        self.verdicts.append(verdict)
        return verdict

    def step(self) -> Verdict | None:
        why = self.why_now()
        return None if why is None else self.round(why)

    def run(self, check_every_s: float, on_verdict: Callable[[Verdict], None]) -> None:
        while True:
            try:
                verdict = self.step()
            except (StreamsError, ValueError) as exc:  # HoldoutError, too little data, ...
                log.error("trainer round failed: %s", exc)
                verdict = None
            if verdict is not None:
                on_verdict(verdict)
            time.sleep(check_every_s)
