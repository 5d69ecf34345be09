"""What an import did: rows read, events and items kept, rows dropped per reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class DataImportError(ValueError):
    """An input file is missing or not in the expected layout (the message names file and line)."""


@dataclass
class ImportReport:
    """Counters filled by an importer; ``dropped`` maps a short reason slug to a row count."""

    source: str
    rows_read: int = 0
    events: int = 0
    items: int = 0
    users: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def drop(self, reason: str) -> None:
        """Count one input row dropped for ``reason``."""
        self.dropped[reason] += 1

    def lines(self) -> list[str]:
        """A human-readable summary, one fact per line."""
        out = [
            f"source: {self.source}",
            f"rows read: {self.rows_read:,}",
            f"kept: {self.events:,} events, {self.items:,} items, {self.users:,} users",
        ]
        if self.dropped:
            out.append(f"dropped: {sum(self.dropped.values()):,} rows")
            out.extend(f"  {reason}: {n:,}" for reason, n in sorted(self.dropped.items()))
        else:
            out.append("dropped: none")
        out.extend(f"note: {note}" for note in self.notes)
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "events": self.events,
            "items": self.items,
            "users": self.users,
            "dropped": dict(sorted(self.dropped.items())),
            "notes": list(self.notes),
        }
