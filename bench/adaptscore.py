"""Scores the lists a worker *published* against a synthetic folder's ``truth.json``.

* **Time-to-adapt** per true switch, with the definition of the offline replay
  (:mod:`encoders.evaluation.stream`): for a switch at a user's event index s, the number of events
  k = p - s + 1 of the first list published at an event p in the switch's segment (s <= p < next
  switch) whose top-10 holds at least half items of the new topic. A list published at the switch
  event itself counts 1, as offline after applying event s. A switch whose segment ends without
  such a list is *not adapted*. The worker publishes only when its policy triggers (cold start,
  drift, refresh), so this is the adaptation a consumer of the topic sees, not the model's own.
* **Drift lists at noise versus at switches.** truth.json does not mark noise; an event is noise
  when it names an item whose topic is not the user's current topic (switch events never are:
  they open the new topic). A drift-triggered list at event p is *at a switch* when
  s <= p < s + 3 for a true switch s, else *after noise* when n <= p < n + 3 for a noise event n
  (the drift trigger needs consecutive events over the threshold, so it can only fire a little
  after what caused it), else *other*. The target compares the counts; the per-occurrence rates
  (share of switches, share of noise events, followed by a drift list within 3 events) are given
  too.
* Bots (truth's ``bots``) are left out of every figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.verdicts import Goal
from encoders.data.split import group_by_user
from encoders.evaluation.stream import StreamResult, list_adapted
from streams.messages.records import BehaviourEvent

#: "within N events" of the targets, and the window that attributes a drift list to its cause.
WINDOW = 3
GOALS = {
    "median_events_to_adapt": Goal("<=", 2.0, " events"),
    "share_adapted_within_3": Goal(">=", 0.9),
    "noise_to_switch_drift_lists": Goal("<=", 0.2),
}


@dataclass(frozen=True)
class Published:
    """One published list, placed at its triggering event."""

    index: int  # 0-based position of the triggering event in its user's sequence
    trigger: str
    items: tuple[str, ...]


def place_lists(
    by_user: Mapping[str, Sequence[BehaviourEvent]], lists: Iterable[Mapping[str, Any]]
) -> tuple[dict[str, dict[int, Published]], int]:
    """Each user's published lists by event index (a list repeated for one event_id counts once:
    the first read wins), and the number of lists whose event is not in the data."""
    where = {e.event_id: (u, i) for u, seq in by_user.items() for i, e in enumerate(seq)}
    placed: dict[str, dict[int, Published]] = {}
    unknown = 0
    seen: set[str] = set()
    for rec in lists:
        event_id = str(rec.get("event_id"))
        if event_id in seen:
            continue
        seen.add(event_id)
        if event_id not in where:
            unknown += 1
            continue
        user, index = where[event_id]
        items = tuple(str(s["item_id"]) for s in rec["items"])
        placed.setdefault(user, {})[index] = Published(index, str(rec["trigger"]), items)
    return placed, unknown


def _topics_by_index(truth: Mapping[str, Any], user: str, n: int) -> list[str]:
    """The user's true topic at each of their n events."""
    opens = {int(s["event_index"]): str(s["to_topic"]) for s in truth["switches"][user]}
    out, current = [], str(truth["start_topics"][user])
    for i in range(n):
        current = opens.get(i, current)
        out.append(current)
    return out


def score_lists(
    events: Sequence[BehaviourEvent], truth: Mapping[str, Any], lists: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Every figure of the module docstring, from the produced events and the read lists."""
    by_user = group_by_user(events)
    placed, unknown = place_lists(by_user, lists)
    item_topic: Mapping[str, str] = truth["item_topics"]
    bots = set(truth["bots"])
    adapt: list[int | None] = []
    drift = {"switch": 0, "noise": 0, "other": 0}
    switches_with_drift = noise_with_drift = n_noise = 0
    triggers: dict[str, int] = {}
    adapted_by: dict[str, int] = {}  # trigger of the first adapted list of each switch
    for user, seq in by_user.items():
        if user in bots or user not in truth["switches"]:
            continue
        pubs = placed.get(user, {})
        for pub in pubs.values():
            triggers[pub.trigger] = triggers.get(pub.trigger, 0) + 1
        current = _topics_by_index(truth, user, len(seq))
        starts = [int(s["event_index"]) for s in truth["switches"][user]]
        bounds = [*starts, len(seq)]
        for j, start in enumerate(starts):
            first = _first_adapted(pubs, start, bounds[j + 1], current[start], item_topic)
            adapt.append(None if first is None else first.index - start + 1)
            if first is not None:
                adapted_by[first.trigger] = adapted_by.get(first.trigger, 0) + 1
        noise = [
            i
            for i, e in enumerate(seq)
            if e.item_id is not None and item_topic.get(e.item_id) != current[i]
        ]
        n_noise += len(noise)
        drift_at = sorted(pub.index for pub in pubs.values() if pub.trigger == "drift")
        for p in drift_at:
            if any(s <= p < s + WINDOW for s in starts):
                drift["switch"] += 1
            elif any(n <= p < n + WINDOW for n in noise):
                drift["noise"] += 1
            else:
                drift["other"] += 1
        switches_with_drift += sum(any(s <= p < s + WINDOW for p in drift_at) for s in starts)
        noise_with_drift += sum(
            any(n <= p < n + WINDOW and not _near(p, starts) for p in drift_at) for n in noise
        )
    summary = StreamResult(metrics={}, predictions=0, adapt=adapt).adapt_summary()
    n = len(adapt)
    within = sum(a is not None and a <= WINDOW for a in adapt) / n if n else None
    ratio = drift["noise"] / drift["switch"] if drift["switch"] else None
    distribution: dict[str, int] = {}
    for a in adapt:
        key = "not adapted" if a is None else str(a) if a <= 10 else ">10"
        distribution[key] = distribution.get(key, 0) + 1
    return {
        "switches": n,
        "median_events_to_adapt": summary.get("median_events"),
        "share_adapted_within_3": within,
        "share_adapted": summary.get("adapted_share"),
        "median_events_if_adapted": summary.get("median_events_if_adapted"),
        "events_to_adapt_distribution": dict(sorted(distribution.items(), key=_order)),
        "noise_events": n_noise,
        "drift_lists": drift,
        "noise_to_switch_drift_lists": ratio,
        "share_of_switches_with_a_drift_list_within_3": switches_with_drift / n if n else None,
        "share_of_noise_events_with_a_drift_list_within_3": (
            noise_with_drift / n_noise if n_noise else None
        ),
        "lists_scored_by_trigger": dict(sorted(triggers.items())),
        "adapted_switches_by_trigger": dict(sorted(adapted_by.items())),
        "lists_not_in_the_data": unknown,
    }


def _near(p: int, starts: Sequence[int]) -> bool:
    return any(s <= p < s + WINDOW for s in starts)


def _order(kv: tuple[str, int]) -> tuple[int, str]:
    key = kv[0]
    return (int(key), "") if key.isdigit() else (11 if key == ">10" else 12, key)


def _first_adapted(
    pubs: Mapping[int, Published],
    start: int,
    end: int,
    topic: str,
    item_topic: Mapping[str, str],
) -> Published | None:
    """The first list published in [start, end) with half its top-10 in ``topic``."""
    for p in range(start, end):
        pub = pubs.get(p)
        if pub is not None and list_adapted([item_topic.get(i, "") for i in pub.items], topic):
            return pub
    return None


def judge_targets(scores: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per target: value, goal, and met / not met (a value that could not be computed,
    e.g. a median when more than half of the switches never adapt, is *not met*)."""
    rows = []
    for name, goal in GOALS.items():
        value = scores.get(name)
        met = value is not None and goal.holds(float(value))
        why = "" if value is not None else _undefined(name)
        rows.append({"name": name, "goal": goal.text(), "value": value, "met": met, "why": why})
    return rows


def _undefined(name: str) -> str:
    if name == "median_events_to_adapt":
        return "more than half of the switches never adapted: the median is 'never'"
    if name == "noise_to_switch_drift_lists":
        return "no drift list at any switch: the ratio is undefined"
    return "no switch to score"
