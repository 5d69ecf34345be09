"""The trainer's hit-rate trigger against a real worker restarted (kill -9) between two scrapes.

A real ``driftrec worker`` subprocess on the real broker judges its published lists; the trainer's
own ``TrainerService.why_now`` scrapes its ``/metrics`` (only the registry's answer, which version
is the champion, is given to it: the worker serves its untrained seeded model, not a registry
model). The outcomes are made exact: a list after every event (``DRIFTREC_REFRESH_EVENTS=1``),
judged on the user's next event (``DRIFTREC_HIT_WINDOW=1``), a catalog of 6 items under a 10-item
list that leaves out only the last item seen (``DRIFTREC_RECENT_WINDOW=1``): a click on another
item than the previous one is a hit, a ``skip`` is a miss. The tracker of open lists lives in the
worker's memory, so after a restart each user's first event judges nothing.

1. 4 users x 6 clicks: 20 hits. First scrape: judged (1.0 over 20), no retrain.
2. kill -9, restart; 4 users x 11 events (6 hits, 4 skips after the first): the restarted
   worker's counters are 24 hits, 16 misses, below the old process's 20 hits. Second scrape: the
   40 lists judged since the first scrape, rate 0.6, no retrain. No counter went down, so only
   the worker's ``process_start_time_seconds`` shows the restart. Subtracting the old counters
   (summed over workers before c475d11; per worker, a drop taken as the only sign of a restart,
   after it) saw (24 - 20) / (40 - 20) = 0.2 over 20 lists and fired a retrain for nothing.
3. 3 skips per user: 12 misses, fewer than ``min_outcomes`` (20): no judgement, no retrain; 2
   more skips per user: 20 misses, rate 0 < 0.5: the retrain fires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from encoders.training.loop import TrainConfig
from streams.messages.records import BehaviourEvent, ItemRecord
from streams.trainer.service import TrainerService
from tests.integration.pipeline_support import Pipeline, Worker, event_bytes, send, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

T0 = 1_750_000_000.0
USERS = [f"u{k}" for k in range(4)]
ITEMS = [ItemRecord(f"i{k}", f"item {k} {word}") for k, word in enumerate("abcdef")]
OUTCOME = re.compile(
    r'^driftrec_live_list_outcomes_total\{model_version="([^"]+)",outcome="(hit|miss)"\} (\S+)$'
)


@dataclass
class Champion:
    """What ``Registry.state()`` answers the trainer: only ``champion`` is read by the trigger."""

    champion: str | None


class KnownChampion:
    def __init__(self, version: str) -> None:
        self.version = version

    def state(self) -> Champion:
        return Champion(self.version)


def outcomes(worker: Worker) -> dict[tuple[str, str], float]:
    """(model_version, outcome) -> the worker's own counter, read from its /metrics."""
    status, text = worker.get("/metrics")
    assert status == 200, text
    found = (OUTCOME.match(line) for line in str(text).splitlines())
    return {(m[1], m[2]): float(m[3]) for m in found if m}


def wait_outcomes(worker: Worker, expected: dict[tuple[str, str], float]) -> None:
    """Wait until the worker's counters are ``expected``; fail showing what they are."""
    try:
        wait_for(lambda: outcomes(worker) == expected, 30, f"outcomes {expected}", worker)
    except AssertionError:
        assert outcomes(worker) == expected
        raise


class Stream:
    """Each user's events in order, item after item of the catalog (never the previous one)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.sent = dict.fromkeys(USERS, 0)

    def send(self, actions: list[str]) -> None:
        """``actions`` for every user (one event each), then wait until all are applied."""
        events = []
        for user in USERS:
            for action in actions:
                k = self.sent[user]
                item = ITEMS[k % len(ITEMS)].item_id
                events.append(BehaviourEvent(f"{user}-{k}", user, T0 + 60 * k, action, item))
                self.sent[user] += 1
        pipe = self.worker.pipeline
        send(pipe.kafka(), pipe.settings.events_topic, map(event_bytes, events))
        wait_for(
            lambda: all(self.worker.events_applied(u) == self.sent[u] for u in USERS),
            120,
            f"{len(events)} events applied",
            self.worker,
        )


def test_a_worker_killed_between_two_scrapes_is_counted_from_zero(
    kafka_bootstrap: str, tiny_encoder: Path, tmp_path: Path
) -> None:
    extra = {
        "DRIFTREC_REFRESH_EVENTS": "1",
        "DRIFTREC_HIT_WINDOW": "1",
        "DRIFTREC_RECENT_WINDOW": "1",
    }
    pipe = Pipeline(kafka_bootstrap, tmp_path, tiny_encoder, partitions=1, extra_env=extra)
    pipe.create(ITEMS)
    worker = pipe.worker()
    worker.start()
    try:
        worker.wait_ready()
        worker.wait_catalog(len(ITEMS))
        stream = Stream(worker)
        stream.send(["click"] * 6)
        wait_for(lambda: sum(outcomes(worker).values()) == 20, 30, "20 lists judged", worker)
        ((version, _),) = outcomes(worker)
        assert outcomes(worker) == {(version, "hit"): 20.0}

        trainer = TrainerService(
            pipe.settings,
            since_s=3600,
            train_config=TrainConfig(epochs=1, device="cpu", progress=False),
            threshold=0.5,
            metrics_urls=[f"{worker.url}/metrics"],
            min_outcomes=20,
            cooldown_s=0.0,
        )
        trainer.registry = KnownChampion(version)  # type: ignore[assignment]
        assert trainer.why_now() is None
        assert trainer.last_look == (1.0, 20)

        worker.kill()
        worker.start()
        worker.wait_ready()
        worker.wait_catalog(len(ITEMS))
        assert outcomes(worker) == {}  # counters start again from zero
        # the first event judges nothing (the restarted tracker has no open list), then 6 + 4
        stream.send(["click"] + ["click", "skip", "click", "skip", "click"] * 2)
        after = {(version, "hit"): 24.0, (version, "miss"): 16.0}
        wait_outcomes(worker, after)

        assert trainer.why_now() is None  # 24 hits of the 40 lists judged since the first look
        assert trainer.last_look == (0.6, 40)

        stream.send(["skip"] * 3)
        wait_outcomes(worker, {(version, "hit"): 24.0, (version, "miss"): 28.0})
        assert trainer.why_now() is None  # 12 lists, all missed: too few to judge
        assert trainer.last_look == (0.6, 40)

        stream.send(["skip"] * 2)
        wait_outcomes(worker, {(version, "hit"): 24.0, (version, "miss"): 36.0})
        assert trainer.why_now() == "live hit rate 0.000 < 0.500 over 20 lists"
        assert trainer.last_look == (0.0, 20)
        assert worker.starts == 2
    finally:
        worker.stop()
