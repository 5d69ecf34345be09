"""A training data set read straight from the log: the items topic and a window of the events topic.

No side channel: what the workers consumed is what the trainer learns from, validated by the same
codec the stream uses (:mod:`streams.messages.codec`). Every record that does not make it into the
data set is counted by reason (the stream's DLQ reasons, plus ``unknown_item`` for events on items
the catalog does not hold and ``duplicate`` for an event id seen before), never dropped silently.

The window is chosen in *log time* (Kafka record timestamps): ``--since 7d`` means the events the
log received in the last seven days, whatever timestamps the events themselves carry. The items
topic is compacted and read whole; the newest record of each item wins and a tombstone deletes it.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from encoders.data.folder import DataFolder
from streams.messages.codec import decode_event, decode_item
from streams.messages.records import BehaviourEvent, ItemRecord, RecordError
from streams.readend import assign_all, read_to_end, reader
from streams.settings import Settings

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}


def parse_duration(text: str) -> float:
    """``"90s"``, ``"15m"``, ``"12h"``, ``"7d"``, ``"2w"`` (or plain seconds) -> seconds."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 12h, 7d, 2w)")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass
class LogData:
    """A data folder built from the log, with where it came from and what was left out."""

    folder: DataFolder
    window: dict[str, Any]
    skipped: Counter[str] = field(default_factory=Counter)


def read_items(
    settings: Settings, skipped: Counter[str], timeout_s: float = 120.0
) -> list[ItemRecord]:
    """The current catalog from the compacted items topic."""
    consumer = reader(settings)
    try:
        tps = assign_all(consumer, settings.items_topic, "items")
        consumer.seek_to_beginning(*tps)
        items: dict[str, ItemRecord] = {}
        for m in read_to_end(consumer, consumer.end_offsets(tps), timeout_s, max_records=5000):
            if m.key is not None and m.value is None:
                items.pop(m.key.decode("utf-8", errors="replace"), None)
                continue
            try:
                item = decode_item(m.value, m.key, max_bytes=settings.max_message_bytes)
            except RecordError as exc:
                skipped[f"item_{exc.reason}"] += 1
                continue
            items[item.item_id] = item
        return list(items.values())
    finally:
        consumer.close()


def read_log(
    settings: Settings,
    since_ts: float,
    *,
    until_ts: float | None = None,
    progress: bool = True,
    timeout_s: float = 600.0,
) -> LogData:
    """Items, and the events the log received from ``since_ts`` until now (unix seconds)."""
    until = time.time() if until_ts is None else until_ts
    skipped: Counter[str] = Counter()
    items = read_items(settings, skipped)
    known = {i.item_id for i in items}
    consumer = reader(settings)
    events: list[tuple[float, int, int, BehaviourEvent]] = []
    log_ts: list[float] = []
    offsets: dict[str, list[int]] = {}
    try:
        tps = assign_all(consumer, settings.events_topic, "events")
        starts = consumer.offsets_for_times({tp: int(since_ts * 1000) for tp in tps})
        ends = consumer.end_offsets(tps)
        for tp in tps:
            found = starts.get(tp)
            start = ends[tp] if found is None else found.offset
            consumer.seek(tp, start)
            offsets[str(tp.partition)] = [start, ends[tp]]
        total = sum(end - s for s, end in offsets.values())
        seen: set[str] = set()
        bar = tqdm(total=total, unit="ev", desc="read log", disable=not progress)
        for m in read_to_end(consumer, ends, timeout_s, max_records=5000):
            bar.update(1)
            if m.timestamp / 1000.0 > until:
                continue
            try:
                event = decode_event(
                    m.value, m.key, max_bytes=settings.max_message_bytes, times=settings.times
                )
            except RecordError as exc:
                skipped[exc.reason] += 1
                continue
            if event.item_id is not None and event.item_id not in known:
                skipped["unknown_item"] += 1
                continue
            if event.event_id in seen:
                skipped["duplicate"] += 1
                continue
            seen.add(event.event_id)
            events.append((event.ts, m.partition, m.offset, event))
            log_ts.append(m.timestamp / 1000.0)
        bar.close()
    finally:
        consumer.close()
    events.sort(key=lambda t: (t[0], t[1], t[2]))  # event time; log order breaks ties
    ordered = [e for *_, e in events]
    window = {
        "since": since_ts,
        "until": until,
        "events": len(ordered),
        "users": len({e.user_id for e in ordered}),
        "items": len(items),
        "first_event_ts": ordered[0].ts if ordered else None,
        "last_event_ts": ordered[-1].ts if ordered else None,
        "first_log_ts": min(log_ts) if log_ts else None,
        "last_log_ts": max(log_ts) if log_ts else None,
        "offsets": offsets,
        "skipped": dict(skipped),
        "topics": {"events": settings.events_topic, "items": settings.items_topic},
    }
    return LogData(DataFolder(items=items, events=ordered), window, skipped)
