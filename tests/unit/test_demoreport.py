"""The demo's summary, computed from events and lists, checked against hand-counted values."""

from __future__ import annotations

from typing import Any

from streams.cli.demoreport import summarise, what_changed
from streams.messages.records import BehaviourEvent


def ev(i: int, user: str, item: str, action: str = "purchase") -> BehaviourEvent:
    return BehaviourEvent(f"e{i}", user, 1_300_000_000.0 + i, action, item)


def lst(
    event_id: str, user: str, items: list[str], trigger: str, published: float
) -> dict[str, Any]:
    return {
        "user_id": user,
        "items": [
            {
                "item_id": i,
                "score": 1.0,
                "because": {"event_id": event_id, "item_id": "a", "action": "view"},
            }
            for i in items
        ],
        "trigger": trigger,
        "drift": 0.5,
        "model_version": "m-1",
        "event_id": event_id,
        "event_ts": 0.0,
        "published_ts": published,
    }


def test_summary_counts_hits_triggers_and_latency() -> None:
    events = [ev(0, "u", "a"), ev(1, "u", "b"), ev(2, "u", "x"), ev(3, "v", "c"), ev(4, "v", "d")]
    lists = [
        lst("e0", "u", ["x", "y"], "cold_start", 10.1),  # u buys x two events later: hit
        lst("e0", "u", ["x", "y"], "cold_start", 10.9),  # redelivered duplicate: counted once
        lst("e3", "v", ["z"], "cold_start", 13.3),  # v never buys z; window 2 closes it: miss
        lst("e4", "v", ["c"], "drift", 14.2),  # still open at the end: not judged
    ]
    sent = {"e0": 10.0, "e3": 13.0, "e4": 14.0}
    s = summarise(events, lists, sent_ts=sent, seconds=2.0, hit_window=1)
    assert s.lists == 3
    assert s.by_trigger == {"cold_start": 2, "drift": 1}
    # window 1: u's list after e0 is judged on e1 (b): miss; v's list after e3 judged on e4: miss
    assert (s.hits, s.judged) == (0, 2)
    wider = summarise(events, lists, sent_ts=sent, seconds=2.0, hit_window=2)
    assert (wider.hits, wider.judged) == (1, 1)  # u: x within 2 events; v's windows still open
    assert round(s.latency_ms["p50"]) == 200 and s.events_per_s == 2.5
    assert "hit rate" in s.render("http://x/metrics", offered_rate=100.0)


def test_what_changed_marks_kept_new_and_dropped() -> None:
    first = lst("e0", "u", ["a", "b"], "cold_start", 1.0)
    last = lst("e9", "u", ["b", "c"], "drift", 2.0)
    text = what_changed([first, last], {"a": "Apple", "b": "Bread", "c": "Cheese"})
    assert "  = Bread" in text and "  + Cheese" in text and "  - Apple" in text
    assert "2 lists; first by cold_start, latest by drift" in text
