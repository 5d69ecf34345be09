"""The demo's summary arithmetic: percentiles, hit rate against the user's next events, changes."""

from __future__ import annotations

import math

from encoders.records import BehaviourEvent
from streams.demo_report import changes, hit_rate, percentile, summarise


def ev(user: str, k: int, item: str) -> BehaviourEvent:
    return BehaviourEvent(f"{user}-{k}", user, 1e9 + k, "click", item)


def rec(user: str, event_id: str, items: list[str], trigger: str = "drift") -> dict[str, object]:
    return {
        "user_id": user,
        "event_id": event_id,
        "trigger": trigger,
        "drift": 0.2,
        "event_ts": 1e9,
        "published_ts": 1e9 + 0.1,
        "items": [{"item_id": i, "score": 1.0, "because": None} for i in items],
    }


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0 and math.isnan(percentile([], 50))


def test_hit_rate_looks_only_at_the_next_events_of_the_same_user() -> None:
    events = [ev("a", 0, "x"), ev("a", 1, "y"), ev("a", 2, "z"), ev("b", 0, "y")]
    lists = [
        rec("a", "a-0", ["z"]),  # z comes two events later: hit
        rec("a", "a-1", ["x"]),  # x was before, not after: miss
        rec("a", "a-2", ["q"]),  # nothing after: not counted
        rec("b", "b-0", ["y"]),  # nothing after: not counted
        rec("c", "c-0", ["y"]),  # unknown event: not counted
    ]
    assert hit_rate(lists, events, horizon=10) == (0.5, 2)
    assert hit_rate(lists[:1], events, horizon=1) == (0.0, 1)  # z is beyond a horizon of 1


def test_summary_and_changes_read_well() -> None:
    events = [ev("a", k, f"i{k}") for k in range(4)]
    lists = [rec("a", "a-0", ["i1", "i9"], "cold_start"), rec("a", "a-2", ["i8", "i9"])]
    s = summarise(lists, events, seconds=2.0)
    assert s.by_trigger == {"cold_start": 1, "drift": 1} and s.events == 4
    assert abs(s.latency_p50_s - 0.1) < 1e-6 and s.hit_rate == 0.5
    text = "\n".join(s.lines())
    assert "2 events/s" in text and "p50 100 ms" in text and "50.0%" in text
    lines = changes(lists, {"i8": "Teapot"}, users=1)
    assert lines[0].startswith("user a: 2 lists")
    assert any("new  Teapot [i8]" in line for line in lines)
    assert any(line.strip().startswith("gone") and "i1" in line for line in lines)
