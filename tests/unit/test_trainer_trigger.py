"""The trainer's hit-rate trigger against workers that restart or miss a scrape.

Two fake workers serve real Prometheus expositions over HTTP (a prometheus_client registry per
worker process; a restart is a new registry, its counters back at zero; a missed scrape is an
HTTP 503). The trainer's ``why_now`` scrapes them as it scrapes real workers. In both scenarios
the lists judged since the last look have a healthy hit rate (0.5, threshold 0.3): no retrain.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from encoders.training.loop import TrainConfig
from streams.registry.state import CHAMPION_KEY, RegistryState
from streams.settings import Settings
from streams.trainer.service import TrainerService

CHAMPION = "m-champ"


class FakeWorker:
    """One worker's /metrics: outcome counters of a process that can restart or not answer."""

    def __init__(self, start_time: bool = False) -> None:
        self.up = True
        self.start_time = start_time  # export process_start_time_seconds, as real workers do
        self.starts = 0
        self.restart()
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                if not worker.up:
                    self.send_error(503)
                    return
                body = generate_latest(worker.registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def restart(self) -> None:
        self.registry = CollectorRegistry()
        self.outcomes = Counter(
            "driftrec_live_list_outcomes",
            "judged lists",
            ["model_version", "outcome"],
            registry=self.registry,
        )
        self.starts += 1
        if self.start_time:
            started = Gauge("process_start_time_seconds", "start", registry=self.registry)
            started.set(1_750_000_000.0 + self.starts)

    def judged(self, hits: int, misses: int) -> None:
        self.outcomes.labels(model_version=CHAMPION, outcome="hit").inc(hits)
        self.outcomes.labels(model_version=CHAMPION, outcome="miss").inc(misses)


class FixedRegistry:
    def state(self) -> RegistryState:
        return RegistryState.from_records([(CHAMPION_KEY, {"stack": [CHAMPION], "history": []})])


@pytest.fixture
def workers() -> Iterator[tuple[FakeWorker, FakeWorker]]:
    a, b = FakeWorker(), FakeWorker()
    yield a, b
    for w in (a, b):
        w.server.shutdown()
        w.server.server_close()


def _trainer(workers: tuple[FakeWorker, FakeWorker]) -> TrainerService:
    service = TrainerService(
        Settings(),
        since_s=3600,
        train_config=TrainConfig(epochs=1, device="cpu", progress=False),
        threshold=0.3,
        metrics_urls=[w.url for w in workers],
        min_outcomes=10,
        cooldown_s=0.0,
    )
    service.registry = FixedRegistry()  # type: ignore[assignment]
    return service


def test_a_worker_restart_between_two_scrapes_fires_no_retrain(
    workers: tuple[FakeWorker, FakeWorker],
) -> None:
    a, b = workers
    a.judged(hits=500, misses=100)
    b.judged(hits=600, misses=0)
    trainer = _trainer(workers)
    assert trainer.why_now() is None  # first look: 1,100 hits of 1,200 lists
    assert trainer.last_look == (1100 / 1200, 1200)

    a.judged(hits=300, misses=300)
    b.restart()  # its 600 hits are gone from its counters, not from what was judged
    b.judged(hits=5, misses=5)
    assert trainer.why_now() is None
    assert trainer.last_look == (305 / 610, 610)  # exactly what was judged since the last look


def test_a_missed_scrape_fires_no_retrain_and_loses_no_list(
    workers: tuple[FakeWorker, FakeWorker],
) -> None:
    a, b = workers
    a.judged(hits=500, misses=500)
    b.judged(hits=20, misses=180)  # b served the older lists badly
    trainer = _trainer(workers)
    assert trainer.why_now() is None  # 520 of 1,200: 0.43
    b.up = False
    a.judged(hits=20, misses=20)
    assert trainer.why_now() is None  # b missing: a's 40 new lists only
    assert trainer.last_look == (0.5, 40)
    b.up = True
    a.judged(hits=40, misses=40)
    b.judged(hits=20, misses=20)  # b's lists while it was not scraped count now, once
    assert trainer.why_now() is None
    assert trainer.last_look == (0.5, 120)


def test_a_restart_during_a_missed_scrape_counts_from_zero(
    workers: tuple[FakeWorker, FakeWorker],
) -> None:
    a, b = workers
    a.judged(hits=50, misses=50)
    b.judged(hits=50, misses=50)
    trainer = _trainer(workers)
    assert trainer.why_now() is None
    b.up = False
    assert trainer.why_now() is None  # nothing new anywhere: no judgement
    b.restart()
    b.judged(hits=2, misses=18)
    b.up = True
    assert trainer.why_now() == "live hit rate 0.100 < 0.300 over 20 lists"


def test_a_restart_whose_counters_passed_their_old_values_counts_from_zero() -> None:
    a, b = FakeWorker(start_time=True), FakeWorker(start_time=True)
    try:
        a.judged(hits=20, misses=0)
        trainer = _trainer((a, b))
        assert trainer.why_now() is None
        assert trainer.last_look == (1.0, 20)
        a.restart()  # no counter went down by the next scrape: only the start time tells
        a.judged(hits=24, misses=16)
        assert trainer.why_now() is None  # before: (24 - 20) / (40 - 20) = 0.2 fired a retrain
        assert trainer.last_look == (0.6, 40)
    finally:
        for w in (a, b):
            w.server.shutdown()
            w.server.server_close()
