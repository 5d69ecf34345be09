"""The learning loop end to end on a real broker: drift, retrain from Kafka, hot swap, recovery.

``python -m bench.loop_recovery --out DIR`` (or the integration test) plays this story with one
real ``driftrec worker`` subprocess:

1. **before** — a champion trained offline on the first 60 % of a synthetic population's log is
   registered and promoted; the worker starts serving it (read from the registry) and the rest of
   that population's events flow through it.
2. **drift** — the same users start consuming items together by new groupings (a second synthetic
   log whose item ids are permuted: what goes with what no longer follows the item texts or the
   old co-occurrences). The champion's live hit rate falls; the trainer sees it on the worker's
   metrics and retrains from Kafka alone; the candidate beats the champion on the recent holdout
   and is promoted; the worker swaps models without a restart and rebuilds every profile from its
   recent-event window.
3. **after** — the drifted traffic continues and the live hit rate recovers. A second round whose
   training data stops before the drift (stale data) is judged worse and refused; kept as
   challenger, it serves the A/B share of users while the rest stays with the champion.

Outputs: the recovery curve (hit rate of the published lists per chunk of events, recomputed from
the topics themselves with :class:`profiles.hitrate.HitTracker`), hit rates per phase and per model
version, what the swaps took, and a PNG.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.workers import WorkerProcess, get_view
from encoders.data.synth import SynthSpec, generate
from profiles.hitrate import HitTracker
from streams.messages.records import BehaviourEvent, ItemRecord

Say = Callable[[str], None]


@dataclass(frozen=True)
class Scenario:
    """A catalog and four slices of behaviour, in time order."""

    items: list[ItemRecord]
    champion_train: list[BehaviourEvent]  # offline training data of the first champion
    before: list[BehaviourEvent]  # live, same population
    drift: list[BehaviourEvent]  # live, drifted population (before the retrain)
    after: list[BehaviourEvent]  # live, drifted population (after the promotion)


def build_scenario(users: int = 60, items: int = 120, topics: int = 4, seed: int = 1) -> Scenario:
    """Phase 1 from synth seed ``seed``; phase 2 from seed+1 with item ids permuted, shifted a day
    after phase 1 (same user ids: the same people, new habits)."""
    spec = SynthSpec(
        users=users,
        items=items,
        topics=topics,
        min_events=20,
        max_events=40,
        noise_rate=0.05,
        search_rate=0.0,
        bot_fraction=0.0,
        image_dim=0,
    )
    one, two = generate(spec, seed), generate(spec, seed + 1)
    ids = [i.item_id for i in one.items]
    perm = np.random.default_rng(seed + 2).permutation(len(ids))
    remap = {ids[k]: ids[int(perm[k])] for k in range(len(ids))}
    shift = max(e.ts for e in one.events) + 86_400.0 - min(e.ts for e in two.events)
    drifted = [
        replace(
            e,
            event_id=f"d-{e.event_id}",
            ts=round(e.ts + shift, 3),
            item_id=None if e.item_id is None else remap[e.item_id],
        )
        for e in two.events
    ]
    cut1, cut2 = int(len(one.events) * 0.6), len(drifted) // 2
    return Scenario(one.items, one.events[:cut1], one.events[cut1:], drifted[:cut2], drifted[cut2:])


# --- the offline judge: hit outcomes recomputed from what was produced and published -----------


@dataclass(frozen=True)
class Judged:
    index: int  # position of the triggering event in the produced sequence
    version: str
    hit: bool


def judge_lists(
    events: Sequence[BehaviourEvent], lists: Sequence[dict[str, Any]], window: int
) -> list[Judged]:
    """Outcome of every published list: did its user act on one of its items within the next
    ``window`` events (the worker's own definition, recomputed from the topics)."""
    index = {e.event_id: i for i, e in enumerate(events)}
    by_event: dict[str, dict[str, Any]] = {}
    for rec in lists:  # a redelivered event may publish twice: judge each list once
        if rec.get("event_id") in index:
            by_event.setdefault(rec["event_id"], rec)
    tracker = HitTracker(window=window, max_users=1 << 30)
    out: list[Judged] = []
    for i, e in enumerate(events):
        for o in tracker.event(e.user_id, e.item_id, e.action):
            out.append(Judged(int(o.tag), o.model_version, o.hit))
        published = by_event.get(e.event_id)
        if published is not None:
            items = (s["item_id"] for s in published["items"])
            tracker.published(e.user_id, items, published["model_version"], tag=str(i))
    return sorted(out, key=lambda j: j.index)


def rate(judged: Sequence[Judged]) -> float | None:
    return None if not judged else sum(j.hit for j in judged) / len(judged)


def curve(judged: Sequence[Judged], total: int, chunk: int) -> list[dict[str, Any]]:
    """Hit rate of the lists triggered in each chunk of ``chunk`` produced events, overall and
    per model version."""
    out = []
    for start in range(0, total, chunk):
        part = [j for j in judged if start <= j.index < start + chunk]
        versions = {
            v: {"lists": len(mine), "hit_rate": rate(mine)}
            for v in sorted({j.version for j in part})
            if (mine := [j for j in part if j.version == v])
        }
        out.append(
            {
                "start": start,
                "end": min(total, start + chunk),
                "lists": len(part),
                "hit_rate": rate(part),
                "versions": versions,
            }
        )
    return out


def plot(points: Sequence[dict[str, Any]], marks: dict[str, int], png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5))
    mid = [(p["start"] + p["end"]) / 2 for p in points]
    xs = [x for x, p in zip(mid, points, strict=True) if p["hit_rate"] is not None]
    ys = [p["hit_rate"] for p in points if p["hit_rate"] is not None]
    ax.plot(xs, ys, marker="o", color="black", linewidth=2, label="all lists")
    versions = sorted({v for p in points for v in p["versions"]}, key=_first_seen(points))
    for k, v in enumerate(versions):
        vx = [
            x
            for x, p in zip(mid, points, strict=True)
            if p["versions"].get(v, {}).get("lists", 0) >= 5
        ]
        vy = [
            p["versions"][v]["hit_rate"]
            for p in points
            if p["versions"].get(v, {}).get("lists", 0) >= 5
        ]
        ax.plot(vx, vy, marker="s", linestyle=":", markersize=5, color=f"C{k}", label=f"model {v}")
    for name, x in marks.items():
        ax.axvline(x, color="grey", linestyle="--", linewidth=1)
        ax.text(x, 1.0, f" {name}", rotation=90, va="top", fontsize=8, color="dimgrey")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("events produced (lists judged by the events that followed them)")
    ax.set_ylabel("live hit rate")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def _first_seen(points: Sequence[dict[str, Any]]) -> Callable[[str], int]:
    def key(version: str) -> int:
        return next(i for i, p in enumerate(points) if version in p["versions"])

    return key


# --- talking to a worker ----------------------------------------------------------------------


@dataclass
class WorkerClient:
    """HTTP views and metrics of one worker subprocess."""

    port: int
    proc: WorkerProcess | None = None
    _metrics: str = field(default="", repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, Any]:
        return get_view(self.url, path)

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Every sample ``name{labels} value`` of the worker's metrics."""
        from prometheus_client.parser import text_string_to_metric_families

        _, text = self.get("/metrics")
        out = []
        for family in text_string_to_metric_families(text or ""):
            for s in family.samples:
                if s.name == name:
                    out.append((dict(s.labels), float(s.value)))
        return out

    def total(self, name: str, **labels: str) -> float:
        return sum(
            v for lab, v in self.samples(name) if all(lab.get(k) == x for k, x in labels.items())
        )

    def wait(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None:
                self.proc.check_alive()
            if check():
                return
            time.sleep(0.25)
        tail = self.proc.log_tail() if self.proc is not None else ""
        raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}\n{tail}")

    def handled(self) -> float:
        """Events applied, skipped as duplicates or dead-lettered so far."""
        return (
            self.total("driftrec_events_applied_total")
            + self.total("driftrec_events_skipped_duplicate_total")
            + self.total("driftrec_dead_letters_total")
        )


def say_nothing(_msg: str) -> None:
    """Default ``say``: quiet."""
