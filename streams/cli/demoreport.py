"""What `driftrec demo` tells a person at the end: throughput, lists, latency, hit rate, changes.

Pure functions over the replayed events and the lists read back from the recommendations topic,
so the summary is computed from what really went over Kafka.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from profiles.hitrate import HitTracker
from streams.messages.records import BehaviourEvent


@dataclass(frozen=True)
class DemoSummary:
    events: int
    seconds: float
    lists: int
    by_trigger: dict[str, int]
    latency_ms: dict[str, float]  # p50 / p99 from the event's send time to the list's publication
    hits: int
    judged: int
    hit_window: int
    model_version: str

    @property
    def events_per_s(self) -> float:
        return self.events / max(self.seconds, 1e-9)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.judged if self.judged else 0.0

    def render(self, metrics_url: str, offered_rate: float | None = None) -> str:
        triggers = ", ".join(f"{k} {v}" for k, v in sorted(self.by_trigger.items())) or "none"
        lat = self.latency_ms
        return "\n".join(
            [
                "",
                "=== driftrec demo summary ===",
                f"model            {self.model_version}",
                f"events           {self.events} in {self.seconds:.1f} s "
                f"({self.events_per_s:.0f} events/s from first send to last list; "
                + (f"offered {offered_rate:.0f}/s)" if offered_rate else "sent at full speed)"),
                f"lists published  {self.lists} ({self.lists / max(self.seconds, 1e-9):.1f}/s): "
                f"{triggers}",
                f"latency          p50 {lat.get('p50', float('nan')):.0f} ms, "
                f"p99 {lat.get('p99', float('nan')):.0f} ms (event sent -> list published)",
                f"hit rate         {self.hit_rate:.1%} of {self.judged} lists: the user acted "
                f"on a listed item within their next {self.hit_window} events",
                f"metrics          {metrics_url} (Prometheus + Grafana: docker compose up)",
            ]
        )


def summarise(
    events: Sequence[BehaviourEvent],
    lists: Sequence[dict[str, Any]],
    *,
    sent_ts: dict[str, float],
    seconds: float,
    hit_window: int,
) -> DemoSummary:
    """Summary of one replay: ``lists`` are the JSON values read from the recommendations topic
    (at-least-once: a list repeated after a restart counts once, by its triggering event_id).

    A replay keeps the log's historical timestamps (the model needs the real time gaps), so its
    latency runs from when each event was sent (``sent_ts``, event_id -> seconds) to when its list
    was published, not from the event's own ``ts``.
    """
    by_event: dict[str, dict[str, Any]] = {}
    for rec in lists:
        if rec.get("event_id") is not None:
            by_event.setdefault(rec["event_id"], rec)
    latencies = [
        1000.0 * (rec["published_ts"] - sent_ts[event_id])
        for event_id, rec in by_event.items()
        if event_id in sent_ts
    ]
    tracker = HitTracker(window=hit_window)
    hits = judged = 0
    for event in events:
        for outcome in tracker.event(event.user_id, event.item_id, event.action):
            judged += 1
            hits += outcome.hit
        listed = by_event.get(event.event_id)
        if listed is not None:
            item_ids = [i["item_id"] for i in listed["items"]]
            tracker.published(event.user_id, item_ids, listed["model_version"])
    versions = Counter(rec["model_version"] for rec in by_event.values())
    return DemoSummary(
        events=len(events),
        seconds=seconds,
        lists=len(by_event),
        by_trigger=dict(Counter(rec["trigger"] for rec in by_event.values())),
        latency_ms=(
            {"p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99))}
            if latencies
            else {}
        ),
        hits=hits,
        judged=judged,
        hit_window=hit_window,
        model_version=versions.most_common(1)[0][0] if versions else "-",
    )


def what_changed(user_lists: Sequence[dict[str, Any]], titles: dict[str, str], top: int = 5) -> str:
    """How one user's list moved from their first list to their latest, with the reasons."""
    first, last = user_lists[0], user_lists[-1]
    before = [i["item_id"] for i in first["items"][:top]]
    lines = [
        f"user {last['user_id']}: {len(user_lists)} lists; "
        f"first by {first['trigger']}, latest by {last['trigger']} (drift {last['drift']:.2f})"
    ]
    for item in last["items"][:top]:
        mark = "  =" if item["item_id"] in before else "  +"
        because = item.get("because")
        why = (
            f"  <- your {because['action']} of {titles.get(because['item_id'], '?')[:30]}"
            if because
            else ""
        )
        lines.append(f"{mark} {titles.get(item['item_id'], item['item_id'])[:40]:<40}{why}")
    gone = [i for i in before if i not in {x["item_id"] for x in last["items"][:top]}]
    lines.extend(f"  - {titles.get(i, i)[:40]}" for i in gone)
    return "\n".join(lines)
