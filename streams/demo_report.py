"""What the demo tells a person at the end: throughput, triggers, latency, hit rate, changes.

Pure functions over the events that were replayed and the lists that came back, so they are
tested without a broker.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from encoders.records import BehaviourEvent


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def hit_rate(
    lists: Sequence[Mapping[str, Any]], events: Sequence[BehaviourEvent], horizon: int = 10
) -> tuple[float, int]:
    """Share of lists with at least one listed item among the user's next ``horizon`` item events.

    Lists whose user did nothing afterwards are not counted. Returns (rate, lists counted).
    """
    per_user: dict[str, list[BehaviourEvent]] = {}
    for e in events:
        per_user.setdefault(e.user_id, []).append(e)
    position = {e.event_id: k for seq in per_user.values() for k, e in enumerate(seq)}
    hits = counted = 0
    for rec in lists:
        seq = per_user.get(str(rec.get("user_id")), [])
        at = position.get(str(rec.get("event_id")))
        if at is None:
            continue
        following = [e.item_id for e in seq[at + 1 :] if e.item_id is not None][:horizon]
        if not following:
            continue
        counted += 1
        listed = {i["item_id"] for i in rec.get("items", [])}
        hits += bool(listed & set(following))
    return (hits / counted if counted else math.nan), counted


@dataclass(frozen=True)
class Summary:
    events: int
    seconds: float
    lists: int
    by_trigger: dict[str, int]
    latency_p50_s: float
    latency_p99_s: float
    hit_rate: float
    hit_lists: int
    horizon: int

    def lines(self) -> list[str]:
        triggers = ", ".join(f"{t} {n}" for t, n in sorted(self.by_trigger.items())) or "none"
        rate = self.events / self.seconds if self.seconds > 0 else math.nan
        return [
            f"events replayed    {self.events} in {self.seconds:.1f}s ({rate:.0f} events/s)",
            f"lists published    {self.lists} ({self.lists / max(self.seconds, 1e-9):.1f}/s): "
            f"{triggers}",
            f"latency            p50 {self.latency_p50_s * 1000:.0f} ms, "
            f"p99 {self.latency_p99_s * 1000:.0f} ms (event time -> list published)",
            f"hit rate           {self.hit_rate:.1%} of {self.hit_lists} lists had an item the "
            f"user took within their next {self.horizon} events",
        ]


def summarise(
    lists: Sequence[Mapping[str, Any]],
    events: Sequence[BehaviourEvent],
    seconds: float,
    horizon: int = 10,
) -> Summary:
    latencies = [
        float(r["published_ts"]) - float(r["event_ts"])
        for r in lists
        if r.get("event_ts") is not None and r.get("published_ts") is not None
    ]
    rate, counted = hit_rate(lists, events, horizon)
    return Summary(
        events=len(events),
        seconds=seconds,
        lists=len(lists),
        by_trigger=dict(Counter(str(r.get("trigger")) for r in lists)),
        latency_p50_s=percentile(latencies, 50),
        latency_p99_s=percentile(latencies, 99),
        hit_rate=rate,
        hit_lists=counted,
        horizon=horizon,
    )


def changes(
    lists: Sequence[Mapping[str, Any]], titles: Mapping[str, str], users: int = 3, top: int = 5
) -> list[str]:
    """For the users with the most lists: their first and latest list and what changed."""
    by_user: dict[str, list[Mapping[str, Any]]] = {}
    for rec in lists:
        by_user.setdefault(str(rec["user_id"]), []).append(rec)
    chosen = sorted(by_user, key=lambda u: (-len(by_user[u]), u))[:users]
    out: list[str] = []

    def name(item_id: str) -> str:
        return f"{titles.get(item_id, item_id)[:40]} [{item_id}]"

    for user in chosen:
        first, last = by_user[user][0], by_user[user][-1]
        before = [i["item_id"] for i in first["items"][:top]]
        after = [i["item_id"] for i in last["items"][:top]]
        out.append(
            f"user {user}: {len(by_user[user])} lists; first ({first['trigger']}) -> latest "
            f"({last['trigger']}, drift {float(last.get('drift', 0.0)):.3f})"
        )
        for item in last["items"][:top]:
            why = item.get("because")
            reason = f"  because {why['action']} {name(why['item_id'])}" if why else ""
            mark = "new " if item["item_id"] not in before else "kept"
            out.append(f"    {mark} {name(item['item_id'])}{reason}")
        dropped = [i for i in before if i not in after]
        if dropped:
            out.append("    gone " + ", ".join(name(i) for i in dropped))
    return out
