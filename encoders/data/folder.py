"""The canonical data folder: ``items.jsonl`` and ``events.jsonl`` (one JSON record per line).

Events are returned ordered by ``ts``; events with equal ``ts`` keep their file order (a stable
sort), which is how a basket of simultaneous purchases keeps the order the importer wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.messages.records import (
    DEFAULT_TIMES,
    BehaviourEvent,
    ItemRecord,
    RecordError,
    TimeRule,
    loads_json,
    parse_event,
    parse_item,
)

ITEMS_FILE = "items.jsonl"
EVENTS_FILE = "events.jsonl"


class DataFolderError(ValueError):
    """A data folder is missing or holds a record breaking its contract (path:line says where)."""


@dataclass(frozen=True)
class DataFolder:
    """A catalog and its behaviour log, events in time order."""

    items: list[ItemRecord]
    events: list[BehaviourEvent]

    def item_ids(self) -> list[str]:
        return [item.item_id for item in self.items]


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    if not path.is_file():
        raise DataFolderError(
            f"{path} not found: a data folder holds {ITEMS_FILE} and {EVENTS_FILE}"
        )
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, loads_json(line)
            except json.JSONDecodeError as exc:
                raise DataFolderError(f"{path}:{lineno}: not JSON ({exc.msg})") from exc
            except RecordError as exc:
                raise DataFolderError(f"{path}:{lineno}: {exc}") from exc


def read_items(path: Path) -> list[ItemRecord]:
    """Read and validate ``items.jsonl``; a duplicate item_id is an error."""
    items: dict[str, ItemRecord] = {}
    for lineno, obj in _lines(path):
        try:
            item = parse_item(obj)
        except RecordError as exc:
            raise DataFolderError(f"{path}:{lineno}: {exc}") from exc
        if item.item_id in items:
            raise DataFolderError(f"{path}:{lineno}: duplicate item_id {item.item_id!r}")
        items[item.item_id] = item
    return list(items.values())


def read_events(
    path: Path, known_items: set[str] | None = None, times: TimeRule = DEFAULT_TIMES
) -> list[BehaviourEvent]:
    """Read and validate ``events.jsonl`` (``ts`` read by ``times``), sorted by ts (stable).
    Unknown item ids are errors when ``known_items`` is given."""
    events: list[BehaviourEvent] = []
    for lineno, obj in _lines(path):
        try:
            event = parse_event(obj, times)
        except RecordError as exc:
            raise DataFolderError(f"{path}:{lineno}: {exc}") from exc
        if (
            known_items is not None
            and event.item_id is not None
            and event.item_id not in known_items
        ):
            raise DataFolderError(f"{path}:{lineno}: unknown item_id {event.item_id!r}")
        events.append(event)
    events.sort(key=lambda e: e.ts)  # list.sort is stable: equal ts keep file order
    return events


def read_folder(folder: Path, times: TimeRule = DEFAULT_TIMES) -> DataFolder:
    """Read a data folder, checking every event's item against the catalog."""
    items = read_items(folder / ITEMS_FILE)
    events = read_events(folder / EVENTS_FILE, {i.item_id for i in items}, times)
    return DataFolder(items=items, events=events)


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def write_folder(
    folder: Path, items: Iterable[ItemRecord], events: Iterable[BehaviourEvent]
) -> None:
    """Write a data folder (creating it); events are written in the order given."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_jsonl(folder / ITEMS_FILE, (i.to_json() for i in items))
    _write_jsonl(folder / EVENTS_FILE, (e.to_json() for e in events))
