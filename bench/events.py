"""Synthetic but valid catalog and behaviour events for the benchmarks (seeded, deterministic).

Every record goes through the shared contracts of ``streams.messages.records`` so that the workers
see exactly what a producer would send. Users drift between categories now and then, so that the
policy's drift trigger has something to react to.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from streams.messages.records import BehaviourEvent, ItemRecord

CATEGORIES = (
    "books",
    "garden",
    "kitchen",
    "music",
    "outdoor",
    "toys",
    "tools",
    "fashion",
)
_WORDS = ("red", "blue", "vintage", "modern", "small", "wooden", "steel", "cotton", "retro")
_NOUNS = ("mug", "lamp", "chair", "kettle", "novel", "guitar", "tent", "kite", "scarf", "candle")
_QUERIES = ("gift for dad", "cheap camping gear", "something cosy", "best seller", "new in")
#: Actions and their weights in the generated stream (views dominate, as in real logs).
ACTION_WEIGHTS = {
    "view": 60,
    "click": 20,
    "cart": 6,
    "purchase": 3,
    "like": 4,
    "search": 4,
    "comment": 2,
    "skip": 1,
}


def item_id(i: int) -> str:
    return f"i{i:07d}"


def make_items(n: int, seed: int = 0) -> list[ItemRecord]:
    """``n`` catalog items with short titles, a category and two tags."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        title = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {rng.choice(_NOUNS)}"
        items.append(
            ItemRecord(
                item_id=item_id(i),
                title=title,
                category=category,
                tags=(rng.choice(_WORDS), category),
                description=f"A {title} for {category} lovers.",
            )
        )
    return items


def make_events(
    n: int,
    users: int,
    items: int,
    *,
    seed: int = 0,
    start_ts: float,
    prefix: str = "e",
    spacing_s: float = 0.001,
) -> Iterator[BehaviourEvent]:
    """``n`` events over ``users`` users and ``items`` items; ids ``<prefix><index>``.

    Each user mostly stays in one category and switches category with probability 0.1 per event;
    searches and comments carry free text (about 6 % of events), the rest only an item.
    """
    rng = random.Random(seed)
    taste = [rng.randrange(len(CATEGORIES)) for _ in range(users)]
    actions = list(ACTION_WEIGHTS)
    weights = list(ACTION_WEIGHTS.values())
    per_cat = max(1, items // len(CATEGORIES))
    for i in range(n):
        u = rng.randrange(users)
        if rng.random() < 0.1:
            taste[u] = rng.randrange(len(CATEGORIES))
        action = rng.choices(actions, weights)[0]
        item: str | None = item_id(
            min(items - 1, taste[u] + len(CATEGORIES) * rng.randrange(per_cat))
        )
        text = None
        if action == "search":
            text, item = rng.choice(_QUERIES), None
        elif action == "comment":
            text = f"love this {rng.choice(_NOUNS)}"
        yield BehaviourEvent(
            event_id=f"{prefix}{i}",
            user_id=f"u{u:07d}",
            ts=start_ts + i * spacing_s,
            action=action,
            item_id=item,
            text=text,
        )


def encode_event(event: BehaviourEvent) -> tuple[bytes, bytes]:
    """The Kafka ``(key, value)`` of an event: key user_id, value compact JSON."""
    value = json.dumps(event.to_json(), separators=(",", ":")).encode()
    return event.user_id.encode(), value


def encode_item(item: ItemRecord) -> tuple[bytes, bytes]:
    """The Kafka ``(key, value)`` of an item on the compacted items topic."""
    return item.item_id.encode(), json.dumps(item.to_json(), separators=(",", ":")).encode()
