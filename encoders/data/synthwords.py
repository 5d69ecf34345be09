"""A second synthetic generator, built differently from :mod:`encoders.data.synth`
(``driftrec data synth --generator words``).

What differs, so that adaptation measured on both is not one generator's artefact:

* **Topics of generated pseudo-words.** Each topic's vocabulary is made of pronounceable
  pseudo-words drawn from syllables, so the topic count is free (default 20) and no language
  model has seen the words; item titles and descriptions mix topic words with shared filler words.
* **Uneven catalog.** Topic sizes follow a Dirichlet draw (some topics are large, some small);
  popularity inside a topic is Pareto-weighted rather than Zipf by rank. Default ~3,000 items.
* **Heavy-tailed time and segments.** Segment lengths (events between two switches) are
  lognormal above a minimum; gaps inside a session are Pareto-distributed seconds, gaps between
  sessions lognormal hours; the number of events per user is lognormal too.
* **Another action mix.** More clicks and ratings (``rate`` with a 1-5 ``value``), comments,
  fewer purchases; searches use the topic's pseudo-words; a higher noise rate (0.15).
* **No image vectors** (text only), and a different bot: it replays one topic's items in a loop.

It writes the same data folder and the same ``truth.json`` schema as :mod:`encoders.data.synth`
(``seed``, ``item_seed`` (always None here), ``spec``, ``topics``, ``item_topics``, ``bots``,
``start_topics``, ``switches`` with ``event_index``, ``ts``, ``from_topic``, ``to_topic``), so
every scorer of synthetic folders reads it. A switch's first event is always an item of the new
topic; noise events are clicks on an item of another topic. Same seed and spec, same files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from encoders.data.synth import SynthData, switch_record
from streams.messages.records import BehaviourEvent, ItemRecord

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "kr",
           "st", "tr", "pl", "gl", "sh", "th")  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ee")
_CODAS = ("", "", "n", "r", "l", "s", "x", "m", "nd", "rk")
# On-topic actions and their weights (rate: a 1-5 value; comment: a short text too).
_ACTIONS = ("view", "click", "rate", "like", "cart", "purchase", "comment")
_ACTION_P = (0.30, 0.34, 0.12, 0.10, 0.07, 0.04, 0.03)


@dataclass(frozen=True)
class WordsSpec:
    """Shape of a pseudo-word log. Defaults: 400 users, ~3,000 items, 20 topics, ~26k events."""

    users: int = 400
    items: int = 3000
    topics: int = 20
    words_per_topic: int = 14
    median_events: float = 55.0  # per ordinary user: lognormal around this median
    min_events: int = 15
    max_events: int = 200
    median_segment: float = 9.0  # events between switches: min_segment + lognormal extra
    min_segment: int = 4
    segment_sigma: float = 0.9  # lognormal shape of the extra segment length (heavy tail)
    noise_rate: float = 0.15  # share of events that are clicks on another topic's item
    search_rate: float = 0.05  # share of events that are text-only searches in the current topic
    bot_fraction: float = 0.03
    topic_concentration: float = 2.0  # Dirichlet concentration of topic sizes (low: uneven)
    start_ts: float = 1_706_745_600.0  # 2024-02-01T00:00:00Z

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"users must be >= 1, got {self.users}")
        if not 2 <= self.topics <= 500:
            raise ValueError(f"topics must be in [2, 500], got {self.topics}")
        if self.items < 2 * self.topics:
            raise ValueError(f"need at least two items per topic: items={self.items}")
        if self.words_per_topic < 3:
            raise ValueError(f"words_per_topic must be >= 3, got {self.words_per_topic}")
        if not 2 <= self.min_events <= self.max_events:
            raise ValueError(
                f"need 2 <= min_events <= max_events, got {self.min_events}, {self.max_events}"
            )
        if self.median_events <= 0 or self.median_segment <= 0 or self.segment_sigma <= 0:
            raise ValueError("median_events, median_segment and segment_sigma must be > 0")
        if self.min_segment < 1:
            raise ValueError(f"min_segment must be >= 1, got {self.min_segment}")
        for name in ("noise_rate", "search_rate", "bot_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.noise_rate + self.search_rate >= 1.0:
            raise ValueError("noise_rate + search_rate must stay below 1")
        if self.topic_concentration <= 0:
            raise ValueError(f"topic_concentration must be > 0, got {self.topic_concentration}")


def _pseudo_words(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    """``count`` new pseudo-words of 2-3 syllables, none in ``taken`` (which grows)."""
    out: list[str] = []
    while len(out) < count:
        syllables = int(rng.integers(2, 4))
        word = "".join(
            _ONSETS[int(rng.integers(len(_ONSETS)))]
            + _VOWELS[int(rng.integers(len(_VOWELS)))]
            + _CODAS[int(rng.integers(len(_CODAS)))]
            for _ in range(syllables)
        )
        if word not in taken:
            taken.add(word)
            out.append(word)
    return out


@dataclass(frozen=True)
class _World:
    names: list[str]  # topic names
    words: list[list[str]]  # per topic
    items: list[ItemRecord]
    topic_of: list[int]  # per item
    members: list[np.ndarray]  # per topic: item indices
    weights: list[np.ndarray]  # per topic: pick probabilities (Pareto popularity)


def _make_world(rng: np.random.Generator, spec: WordsSpec) -> _World:
    taken: set[str] = set()
    filler = _pseudo_words(rng, 30, taken)
    words = [_pseudo_words(rng, spec.words_per_topic, taken) for _ in range(spec.topics)]
    names = [f"t{t:02d}-{words[t][0]}" for t in range(spec.topics)]
    shares = rng.dirichlet(np.full(spec.topics, spec.topic_concentration))
    sizes = 2 + rng.multinomial(spec.items - 2 * spec.topics, shares)  # >= 2 items per topic
    topic_of = [int(t) for t in rng.permutation(np.repeat(np.arange(spec.topics), sizes))]
    items: list[ItemRecord] = []
    for k, t in enumerate(topic_of):
        a, b, c = (words[t][int(j)] for j in rng.choice(spec.words_per_topic, 3, replace=False))
        f1, f2 = (filler[int(j)] for j in rng.choice(len(filler), 2, replace=False))
        items.append(
            ItemRecord(
                item_id=f"w{k:05d}",
                title=f"{f1.capitalize()} {a} {b}",
                description=f"{a} {c} {f2}, {b} with {c}.",
                attributes={"grade": int(rng.integers(1, 6))},
            )
        )
    members = [np.flatnonzero(np.array(topic_of) == t) for t in range(spec.topics)]
    weights = []
    for m in members:
        w = rng.pareto(1.2, size=len(m)) + 0.05  # a few items draw most of the traffic
        weights.append(w / w.sum())
    return _World(names, words, items, topic_of, members, weights)


def _segment_topics(rng: np.random.Generator, spec: WordsSpec, n: int) -> list[int]:
    """The true topic of each of a user's n events: lognormal segments, each a new topic."""
    extra_median = max(spec.median_segment - spec.min_segment, 0.5)
    topics: list[int] = []
    topic = int(rng.integers(spec.topics))
    while len(topics) < n:
        length = spec.min_segment + int(rng.lognormal(np.log(extra_median), spec.segment_sigma))
        topics.extend([topic] * length)
        new = int(rng.integers(spec.topics - 1))
        topic = new + (new >= topic)
    return topics[:n]


def _gap_s(rng: np.random.Generator, new_session: bool) -> float:
    """Pareto seconds inside a session (median ~10 s, tail cut at an hour), lognormal hours
    between sessions (median ~5 h)."""
    if new_session:
        return 900.0 + float(rng.lognormal(np.log(5 * 3600), 1.2))
    return min(3600.0, 6.0 * (1.0 + float(rng.pareto(1.3))))


def _user_events(
    rng: np.random.Generator, spec: WordsSpec, uid: str, world: _World
) -> tuple[list[BehaviourEvent], str, list[dict[str, Any]]]:
    n = int(np.clip(rng.lognormal(np.log(spec.median_events), 0.6), spec.min_events,
                    spec.max_events))  # fmt: skip
    topics = _segment_topics(rng, spec, n)
    ts = spec.start_ts + float(rng.uniform(0, 10 * 86_400))
    events: list[BehaviourEvent] = []
    switches: list[dict[str, Any]] = []
    for i, topic in enumerate(topics):
        switched = i > 0 and topic != topics[i - 1]
        if i > 0:
            ts += _gap_s(rng, rng.random() < (0.35 if switched else 0.08))
        eid, t = f"{uid}-{i}", round(ts, 3)
        if switched:
            switches.append(switch_record(i, t, world.names[topics[i - 1]], world.names[topic]))
        r = rng.random()
        if not switched and r < spec.noise_rate:
            other = int(rng.integers(spec.topics - 1))
            other += other >= topic
            item = int(rng.choice(world.members[other]))  # uniform: noise ignores popularity
            events.append(BehaviourEvent(eid, uid, t, "click", world.items[item].item_id))
        elif not switched and r < spec.noise_rate + spec.search_rate:
            picks = rng.choice(spec.words_per_topic, size=int(rng.integers(1, 4)), replace=False)
            text = " ".join(world.words[topic][int(j)] for j in picks)
            events.append(BehaviourEvent(eid, uid, t, "search", text=text))
        else:
            action = _ACTIONS[int(rng.choice(len(_ACTIONS), p=_ACTION_P))]
            item = int(rng.choice(world.members[topic], p=world.weights[topic]))
            value = float(rng.integers(1, 6)) if action == "rate" else None
            text = world.words[topic][int(rng.integers(spec.words_per_topic))] + " yes"
            events.append(
                BehaviourEvent(
                    eid,
                    uid,
                    t,
                    action,
                    world.items[item].item_id,
                    text=text if action == "comment" else None,
                    value=value,
                )
            )
    return events, world.names[topics[0]], switches


def _bot_events(
    rng: np.random.Generator, spec: WordsSpec, uid: str, world: _World
) -> list[BehaviourEvent]:
    """A bot: 150-400 views half a second apart, cycling through one topic's items."""
    ts = spec.start_ts + float(rng.uniform(0, 10 * 86_400))
    loop = world.members[int(rng.integers(spec.topics))]
    events: list[BehaviourEvent] = []
    for i in range(int(rng.integers(150, 401))):
        ts += 0.3 + float(rng.exponential(0.3))
        item = world.items[int(loop[i % len(loop)])].item_id
        events.append(BehaviourEvent(f"{uid}-{i}", uid, round(ts, 3), "view", item))
    return events


def generate_words(spec: WordsSpec, seed: int) -> SynthData:
    """Generate a pseudo-word log and its truth; deterministic per (spec, seed)."""
    rng = np.random.default_rng(np.random.PCG64([seed, 13]))
    world = _make_world(rng, spec)
    n_bots = round(spec.users * spec.bot_fraction)
    bots = {int(b) for b in rng.choice(spec.users, size=n_bots, replace=False)}
    events: list[BehaviourEvent] = []
    switches: dict[str, list[dict[str, Any]]] = {}
    start_topics: dict[str, str] = {}
    for u in range(spec.users):
        uid = f"v{u:05d}"
        if u in bots:
            events.extend(_bot_events(rng, spec, uid, world))
            continue
        mine, start_topics[uid], switches[uid] = _user_events(rng, spec, uid, world)
        events.extend(mine)
    events.sort(key=lambda e: (e.ts, e.user_id))
    truth = {
        "seed": seed,
        "item_seed": None,
        "generator": "words",
        "spec": asdict(spec),
        "topics": world.names,
        "item_topics": {
            item.item_id: world.names[t]
            for item, t in zip(world.items, world.topic_of, strict=True)
        },
        "bots": sorted(f"v{b:05d}" for b in bots),
        "start_topics": start_topics,
        "switches": switches,
    }
    return SynthData(items=world.items, events=events, truth=truth)
