"""Synthetic behaviour logs with known interest switches (``driftrec data synth``).

Each ordinary user follows one topic at a time and switches to another at known moments; within
a topic they pick items by a skewed (Zipf-like) popularity, with an action mix of views, clicks,
carts, purchases, likes and shares, now and then a search (text only) and, with ``noise_rate``, a
noise click on an item of another topic. Sessions are bursts of seconds-to-minutes gaps separated
by hours. Bot-like users fire hundreds of events a second apart on random items.

Items take their text from their topic's vocabulary (:mod:`encoders.data.vocabulary`) and,
optionally, an image-like vector (``modalities["image"]``) drawn around a per-topic centroid.

``truth.json`` records everything needed to score adaptation:
``{"seed", "spec", "topics", "item_topics": {item: topic}, "bots": [user...],
"start_topics": {user: topic}, "switches": {user: [{"event_index", "ts", "from_topic",
"to_topic"}]}}``. ``event_index`` is the 0-based position, in that user's own time-ordered event
sequence, of the first event of the new topic; ``ts`` is that event's timestamp.
Same seed and spec, same files (numpy's PCG64 generator, no global state).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from encoders.data.folder import write_folder
from encoders.data.vocabulary import GENERIC, TOPICS
from streams.messages.records import BehaviourEvent, ItemRecord

TRUTH_FILE = "truth.json"
# Actions of an on-topic event and their weights: mostly browsing, some stronger signals.
_ACTIONS = ("view", "click", "cart", "purchase", "like", "share")
_ACTION_P = (0.5, 0.25, 0.08, 0.07, 0.07, 0.03)


@dataclass(frozen=True)
class SynthSpec:
    """Shape of a synthetic log. Defaults: ~20k events, a size the 2-core machine trains fast."""

    users: int = 300
    items: int = 600
    topics: int = 8  # taken in order from encoders.data.vocabulary.TOPICS
    min_events: int = 30  # per ordinary user
    max_events: int = 90
    mean_segment: float = 15.0  # mean events between two switches (geometric above min_segment)
    min_segment: int = 6  # a switch never follows the previous one sooner than this
    noise_rate: float = 0.08  # share of events that are clicks on another topic's item
    search_rate: float = 0.03  # share of events that are text-only searches in the current topic
    bot_fraction: float = 0.04  # share of users that are bursty bots
    image_dim: int = 16  # 0: items carry no image vector
    start_ts: float = 1_704_067_200.0  # 2024-01-01T00:00:00Z

    def __post_init__(self) -> None:
        if self.users < 1 or self.items < 1:
            raise ValueError(f"users and items must be >= 1, got {self.users}, {self.items}")
        if not 2 <= self.topics <= len(TOPICS):
            raise ValueError(f"topics must be in [2, {len(TOPICS)}], got {self.topics}")
        if self.items < self.topics:
            raise ValueError(
                f"need at least one item per topic: items={self.items} < {self.topics}"
            )
        if not 2 <= self.min_events <= self.max_events:
            raise ValueError(
                f"need 2 <= min_events <= max_events, got {self.min_events}, {self.max_events}"
            )
        if self.min_segment < 1 or self.mean_segment < self.min_segment:
            raise ValueError(
                "need 1 <= min_segment <= mean_segment, "
                f"got {self.min_segment}, {self.mean_segment}"
            )
        for name in ("noise_rate", "search_rate", "bot_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.noise_rate + self.search_rate >= 1.0:
            raise ValueError("noise_rate + search_rate must stay below 1")
        if not 0 <= self.image_dim <= 2048:
            raise ValueError(f"image_dim must be in [0, 2048], got {self.image_dim}")


@dataclass(frozen=True)
class SynthData:
    """A generated log and its ground truth (the ``truth.json`` object)."""

    items: list[ItemRecord]
    events: list[BehaviourEvent]
    truth: dict[str, Any]

    def write(self, folder: Path) -> None:
        """Write items.jsonl, events.jsonl and truth.json into ``folder``."""
        write_folder(folder, self.items, self.events)
        text = json.dumps(self.truth, indent=1, sort_keys=True)
        (folder / TRUTH_FILE).write_text(text + "\n", encoding="utf-8")


def _make_items(
    rng: np.random.Generator, spec: SynthSpec, names: list[str]
) -> tuple[list[ItemRecord], list[str], list[np.ndarray]]:
    """Items, each item's topic, and per topic the item indices sorted by popularity rank."""
    centroids = rng.normal(size=(spec.topics, max(spec.image_dim, 1)))  # (T, I)
    items: list[ItemRecord] = []
    topic_of: list[str] = []
    members: list[list[int]] = [[] for _ in names]
    for k in range(spec.items):
        t = k % spec.topics  # round robin: every topic gets its share
        phrase, nouns = TOPICS[names[t]]
        noun, other = rng.choice(len(nouns), size=2, replace=False)
        adj, adj2 = rng.choice(len(GENERIC), size=2, replace=False)
        title = f"{GENERIC[adj].capitalize()} {nouns[noun]}"
        description = f"A {GENERIC[adj2]} {nouns[noun]} {phrase}; pairs well with a {nouns[other]}."
        modalities: dict[str, tuple[float, ...]] = {}
        if spec.image_dim:
            vec = centroids[t] + 0.8 * rng.normal(size=spec.image_dim)  # (I,)
            modalities["image"] = tuple(round(float(x), 4) for x in vec)
        price = round(float(np.exp(rng.normal(2.5 + 0.3 * t, 0.5))), 2)
        items.append(
            ItemRecord(
                item_id=f"item-{k:05d}",
                title=title,
                description=description,
                modalities=modalities,
                attributes={"price": price},
            )
        )
        topic_of.append(names[t])
        members[t].append(k)
    ranked = [np.array(m)[rng.permutation(len(m))] for m in members]  # popularity order
    return items, topic_of, ranked


def _zipf_pick(rng: np.random.Generator, ranked: np.ndarray) -> int:
    weights = 1.0 / np.arange(1, len(ranked) + 1) ** 0.9
    return int(ranked[rng.choice(len(ranked), p=weights / weights.sum())])


def _gap_s(rng: np.random.Generator, new_session: bool) -> float:
    """Seconds to the next event: minutes-scale inside a session, hours between sessions."""
    if new_session:
        return 1800.0 + float(rng.exponential(6 * 3600))
    return 1.0 + float(rng.lognormal(3.5, 0.8))  # median ~33 s


def _segment_topics(rng: np.random.Generator, spec: SynthSpec, n: int) -> list[int]:
    """The true topic of each of a user's n events: segments of geometric length, each switching
    to a different topic."""
    p = 1.0 / (spec.mean_segment - spec.min_segment + 1)  # mean segment length = mean_segment
    topics: list[int] = []
    topic = int(rng.integers(spec.topics))
    while len(topics) < n:
        length = spec.min_segment + int(rng.geometric(p)) - 1
        topics.extend([topic] * length)
        new = int(rng.integers(spec.topics - 1))
        topic = new + (new >= topic)  # any topic but the current one
    return topics[:n]


def switch_record(event_index: int, ts: float, from_topic: str, to_topic: str) -> dict[str, Any]:
    """One entry of truth.json's ``switches`` lists (every generator writes this shape)."""
    return {"event_index": event_index, "ts": ts, "from_topic": from_topic, "to_topic": to_topic}


def _user_events(
    rng: np.random.Generator,
    spec: SynthSpec,
    uid: str,
    names: list[str],
    items: list[ItemRecord],
    ranked: list[np.ndarray],
) -> tuple[list[BehaviourEvent], str, list[dict[str, Any]]]:
    """One ordinary user's events, start topic and switches."""
    n = int(rng.integers(spec.min_events, spec.max_events + 1))
    topics = _segment_topics(rng, spec, n)
    ts = spec.start_ts + float(rng.uniform(0, 7 * 86_400))
    events: list[BehaviourEvent] = []
    switches: list[dict[str, Any]] = []
    for i, topic in enumerate(topics):
        switched = i > 0 and topic != topics[i - 1]
        if i > 0:
            # interests often change between sessions, sometimes in the middle of one
            ts += _gap_s(rng, rng.random() < (0.5 if switched else 0.12))
        eid, t = f"{uid}-{i}", round(ts, 3)
        if switched:
            switches.append(switch_record(i, t, names[topics[i - 1]], names[topic]))
        r = rng.random()
        # The first event of a new topic is always an item of that topic: the switch is observable.
        if not switched and r < spec.search_rate:
            nouns = TOPICS[names[topic]][1]
            words = " ".join(nouns[j] for j in rng.choice(len(nouns), size=2, replace=False))
            events.append(BehaviourEvent(eid, uid, t, "search", text=words))
        elif not switched and r < spec.search_rate + spec.noise_rate:
            other = int(rng.integers(spec.topics - 1))
            other += other >= topic
            item = int(ranked[other][rng.integers(len(ranked[other]))])
            events.append(BehaviourEvent(eid, uid, t, "click", items[item].item_id))
        else:
            action = _ACTIONS[int(rng.choice(len(_ACTIONS), p=_ACTION_P))]
            item = _zipf_pick(rng, ranked[topic])
            value = float(rng.integers(1, 4)) if action == "purchase" else None
            events.append(BehaviourEvent(eid, uid, t, action, items[item].item_id, value=value))
    return events, names[topics[0]], switches


def _bot_events(
    rng: np.random.Generator, spec: SynthSpec, uid: str, items: list[ItemRecord]
) -> list[BehaviourEvent]:
    """A bot: bursts of 20-60 views/clicks about a second apart on random items."""
    ts = spec.start_ts + float(rng.uniform(0, 7 * 86_400))
    events: list[BehaviourEvent] = []
    for _ in range(int(rng.integers(3, 7))):
        for _ in range(int(rng.integers(20, 61))):
            ts += 0.2 + float(rng.exponential(0.8))
            action = "view" if rng.random() < 0.7 else "click"
            item = items[int(rng.integers(len(items)))].item_id
            events.append(BehaviourEvent(f"{uid}-{len(events)}", uid, round(ts, 3), action, item))
        ts += float(rng.exponential(3600))
    return events


def generate(spec: SynthSpec, seed: int, item_seed: int | None = None) -> SynthData:
    """Generate a synthetic log and its truth; deterministic per (spec, seed, item_seed).

    With ``item_seed``, the catalog is the one ``seed=item_seed`` draws and the users come from
    ``seed``: a second, held-out log over the same items (train on one, evaluate on the other).
    """
    rng = np.random.default_rng(np.random.PCG64(seed if item_seed is None else item_seed))
    names = list(TOPICS)[: spec.topics]
    items, topic_of, ranked = _make_items(rng, spec, names)
    if item_seed is not None:
        rng = np.random.default_rng(np.random.PCG64([seed, 1]))  # users' own stream
    n_bots = round(spec.users * spec.bot_fraction)
    bots = {int(b) for b in rng.choice(spec.users, size=n_bots, replace=False)}
    events: list[BehaviourEvent] = []
    truth_switches: dict[str, list[dict[str, Any]]] = {}
    start_topics: dict[str, str] = {}
    for u in range(spec.users):
        uid = f"u{u:05d}"
        if u in bots:
            events.extend(_bot_events(rng, spec, uid, items))
            continue
        user_events, start_topics[uid], truth_switches[uid] = _user_events(
            rng, spec, uid, names, items, ranked
        )
        events.extend(user_events)
    events.sort(key=lambda e: (e.ts, e.user_id))  # one global time line; ties broken by user
    truth = {
        "seed": seed,
        "item_seed": item_seed,
        "spec": asdict(spec),
        "topics": names,
        "item_topics": {item.item_id: t for item, t in zip(items, topic_of, strict=True)},
        "bots": sorted(f"u{b:05d}" for b in bots),
        "start_topics": start_topics,
        "switches": truth_switches,
    }
    return SynthData(items=items, events=events, truth=truth)


def read_truth(folder: Path) -> dict[str, Any]:
    """Load ``truth.json`` of a synthetic data folder."""
    path = folder / TRUTH_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: only `driftrec data synth` folders have one")
    truth: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return truth
