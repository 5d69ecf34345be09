"""bench.adaptscore: time-to-adapt and drift-list attribution on hand-made published lists."""

from __future__ import annotations

from typing import Any

import pytest

from bench.adaptscore import judge_targets, score_lists
from encoders.evaluation.stream import list_adapted
from streams.messages.records import BehaviourEvent

# Items a0..a9 are topic A, b0..b9 topic B, c0..c9 topic C.
ITEM_TOPICS = {f"{t}{k}": t.upper() for t in "abc" for k in range(10)}


def _events(user: str, items: list[str]) -> list[BehaviourEvent]:
    return [
        BehaviourEvent(f"{user}-{i}", user, 1000.0 + i, "view", it) for i, it in enumerate(items)
    ]


def _list(user: str, index: int, trigger: str, b_items: int) -> dict[str, Any]:
    """A published list at the user's event ``index`` with ``b_items`` of topic B in its top 10."""
    items = [f"b{k}" for k in range(b_items)] + [f"a{k}" for k in range(10 - b_items)]
    return {
        "event_id": f"{user}-{index}",
        "trigger": trigger,
        "items": [{"item_id": i, "score": 1.0, "because": None} for i in items],
    }


def _truth(**switches: list[tuple[int, str, str]]) -> dict[str, Any]:
    return {
        "item_topics": ITEM_TOPICS,
        "bots": ["bot"],
        "start_topics": {u: s[0][1] for u, s in switches.items()},
        "switches": {
            u: [{"event_index": i, "ts": 0.0, "from_topic": f, "to_topic": t} for i, f, t in s]
            for u, s in switches.items()
        },
    }


def test_list_adapted_needs_half_of_the_top_ten() -> None:
    assert list_adapted(["B"] * 5 + ["A"] * 5, "B")
    assert not list_adapted(["B"] * 4 + ["A"] * 6, "B")
    assert not list_adapted(["A"] * 10 + ["B"] * 10, "B")  # only the top 10 counts
    assert list_adapted(["B", "A"], "B")  # a short list: half of what there is
    assert not list_adapted([], "B")


def test_time_to_adapt_counts_from_the_switch_event() -> None:
    # u1: A A A | B B B B B (switch at 3); first qualifying list at event 4 -> 2 events.
    # u2: A A | B B B | A A (switches at 2 and 5): the list at the switch event qualifies -> 1;
    #     the switch back to A (5) never gets a list with half A... none published -> None.
    # u3: A A | B B (switch at 2); a qualifying list only before the switch -> not adapted.
    u1 = _events("u1", ["a0", "a1", "a2", "b0", "b1", "b2", "b3", "b4"])
    u2 = _events("u2", ["a0", "a1", "b0", "b1", "b2", "a3", "a4"])
    u3 = _events("u3", ["a0", "b9", "b0", "b1"])  # event 1 is a noise click on B
    bot = _events("bot", ["b0"] * 6)
    truth = _truth(
        u1=[(3, "A", "B")],
        u2=[(2, "A", "B"), (5, "B", "A")],
        u3=[(2, "A", "B")],
    )
    lists = [
        _list("u1", 3, "drift", 4),  # at the switch, not yet half B
        _list("u1", 4, "drift", 6),
        _list("u1", 4, "drift", 0),  # a repeat of event u1-4: the first read wins
        _list("u2", 2, "refresh", 5),
        _list("u3", 1, "drift", 9),  # after a noise click, before the switch
        _list("bot", 3, "drift", 10),  # bots are not scored
        _list("ghost", 0, "drift", 10),  # not in the data
    ]
    s = score_lists([*u1, *u2, *u3, *bot], truth, lists)
    assert s["switches"] == 4
    assert s["events_to_adapt_distribution"] == {"1": 1, "2": 1, "not adapted": 2}
    assert s["median_events_to_adapt"] is None  # two of four never adapt: the median is never
    assert s["share_adapted_within_3"] == 0.5
    assert s["share_adapted"] == 0.5
    assert s["noise_events"] == 1
    # u1's two drift lists (events 3 and 4) are at a switch; u3's is after its noise click.
    assert s["drift_lists"] == {"switch": 2, "noise": 1, "other": 0}
    assert s["noise_to_switch_drift_lists"] == 0.5
    assert s["share_of_switches_with_a_drift_list_within_3"] == 0.25
    assert s["share_of_noise_events_with_a_drift_list_within_3"] == 1.0
    assert s["lists_scored_by_trigger"] == {"drift": 3, "refresh": 1}
    assert s["adapted_switches_by_trigger"] == {"drift": 1, "refresh": 1}
    assert s["lists_not_in_the_data"] == 1


def test_targets_are_judged_and_undefined_values_are_not_met() -> None:
    rows = {
        r["name"]: r
        for r in judge_targets(
            {
                "median_events_to_adapt": 2.0,
                "share_adapted_within_3": 0.85,
                "noise_to_switch_drift_lists": None,
            }
        )
    }
    assert rows["median_events_to_adapt"]["met"] is True
    assert rows["share_adapted_within_3"]["met"] is False
    assert rows["noise_to_switch_drift_lists"]["met"] is False
    assert "undefined" in rows["noise_to_switch_drift_lists"]["why"]


def test_set_overrides_are_settings_fields_with_valid_values() -> None:
    from bench.adapt import parse_sets

    assert parse_sets(["drift_confirm=1", "refresh_events=5"]) == {
        "drift_confirm": "1",
        "refresh_events": "5",
    }
    for bad, message in [
        ("no_such_field=1", "Settings field"),
        ("drift_confirm", "FIELD=VALUE"),
        ("drift_confirm=0", "drift_confirm"),
    ]:
        with pytest.raises(SystemExit, match=message):
            parse_sets([bad])
