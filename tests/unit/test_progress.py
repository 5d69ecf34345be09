"""/health's view of progress: stalled when events wait and no batch ends, or the agent ended."""

from __future__ import annotations

from streams.worker.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_waiting_events_without_a_finished_batch_is_a_stall() -> None:
    clock = Clock()
    p = Progress(stall_after_s=30, clock=clock)
    p.started()
    clock.now += 300
    assert p.problem() is None, "idle with nothing to consume is fine"
    p.lag = 5
    problem = p.problem()
    assert problem is not None and "5 events waiting" in problem and "300s" in problem
    p.batch_done()
    assert p.problem() is None
    clock.now += 29
    assert p.problem() is None, "within the bound"
    clock.now += 2
    assert p.problem() is not None


def test_an_ended_agent_is_reported_until_it_starts_again() -> None:
    p = Progress(stall_after_s=30, clock=Clock())
    p.started()
    p.ended("RuntimeError: boom")
    assert p.problem() == "the events agent stopped: RuntimeError: boom"
    p.started()
    assert p.problem() is None


def test_an_agent_restarted_after_a_crash_is_not_fresh_progress() -> None:
    clock = Clock()
    p = Progress(stall_after_s=30, clock=clock)
    clock.now += 50
    p.started()  # the first start (after the model loaded) counts as progress
    p.lag = 3
    for _ in range(10):  # crashes and is restarted every 5 s: no batch ever finishes
        clock.now += 5
        p.ended("AgentKilled: boom")
        p.started()
    problem = p.problem()
    assert problem is not None and "no batch finished for 50s" in problem
    assert p.restarts == 10
