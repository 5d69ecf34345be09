"""The model registry's pure state (the folder of model files is :mod:`streams.registry.store`).

Why two places. Weights are megabytes and must be read by path (``ServingModel.load``), so they
live in a *folder store*, ``$DRIFTREC_HOME/models/<version>/``: the checkpoint folder copied as is
plus ``lineage.json``, written to a temporary folder and renamed into place (atomic), files made
read-only, never changed afterwards (the version is a content hash, so a folder is immutable by
construction). The registry's *state* — which model is champion, which is challenger, which are
retired, and the promotion history — changes while workers run and every worker must learn of a
change without polling a filesystem: it is a stream of small JSON records on a compacted Kafka
topic (``streams.registry.transport``), keyed by version, plus one ``@champion`` pointer record.
The pointer is the single source of truth for the champion, so a promotion or a rollback is ONE
write (atomic for every reader); compaction keeps the newest record per key, so the topic stays as
small as the number of models. This module folds those records into :class:`RegistryState` and
computes the records a transition writes; it has no Kafka and no clock (times are passed in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final, Literal

Status = Literal["champion", "challenger", "retired"]
STATUSES: Final[tuple[Status, ...]] = ("champion", "challenger", "retired")
CHAMPION_KEY: Final = "@champion"
#: Champions remembered for rollback (older ones stay in the registry, just not on the stack).
STACK_MAX: Final = 50


class RegistryError(ValueError):
    """A registry operation is impossible (unknown version, nothing to roll back to, bad record)."""


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: what ``driftrec models list --json`` prints per line."""

    version: str
    status: Status
    created: str  # ISO 8601, UTC
    path: str  # folder in the store
    data_window: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)  # offline metrics (holdout, valid)
    parent: str | None = None  # the champion it was trained to replace
    reason: str = ""  # why it has its status (the trainer's verdict, a manual promotion, ...)
    updated: float = 0.0  # unix time of the last status change

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ModelEntry:
        try:
            status = obj["status"]
            if status not in STATUSES:
                raise RegistryError(f"model {obj.get('version')!r}: unknown status {status!r}")
            return cls(
                version=str(obj["version"]),
                status=status,
                created=str(obj["created"]),
                path=str(obj["path"]),
                data_window=dict(obj.get("data_window") or {}),
                metrics=dict(obj.get("metrics") or {}),
                parent=obj.get("parent"),
                reason=str(obj.get("reason", "")),
                updated=float(obj.get("updated", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RegistryError):
                raise
            raise RegistryError(f"not a model record: {exc!r}") from exc


@dataclass(frozen=True)
class Pointer:
    """The ``@champion`` record: the champion stack (newest last) and its change history."""

    stack: tuple[str, ...] = ()
    history: tuple[dict[str, Any], ...] = ()  # {"action", "version", "ts", "reason"}, newest last

    @property
    def champion(self) -> str | None:
        return self.stack[-1] if self.stack else None

    def to_json(self) -> dict[str, Any]:
        return {"champion": self.champion, "stack": list(self.stack), "history": list(self.history)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Pointer:
        try:
            return cls(tuple(str(v) for v in obj["stack"]), tuple(dict(h) for h in obj["history"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"not a champion record: {exc!r}") from exc


Record = tuple[str, dict[str, Any] | None]  # (key, JSON value or None for a tombstone)


class RegistryState:
    """The registry folded from its records; transitions return the records to write."""

    def __init__(self) -> None:
        self.models: dict[str, ModelEntry] = {}
        self.pointer = Pointer()

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> RegistryState:
        state = cls()
        for key, value in records:
            state.apply(key, value)
        return state

    def apply(self, key: str, value: Mapping[str, Any] | None) -> None:
        """Fold one record in (the newest record of a key wins, as compaction keeps it)."""
        if key == CHAMPION_KEY:
            self.pointer = Pointer() if value is None else Pointer.from_json(value)
        elif value is None:
            self.models.pop(key, None)
        else:
            entry = ModelEntry.from_json(value)
            if entry.version != key:
                raise RegistryError(f"record key {key!r} holds model {entry.version!r}")
            self.models[key] = entry

    # --- questions -------------------------------------------------------------------------
    @property
    def champion(self) -> str | None:
        return self.pointer.champion

    @property
    def challenger(self) -> str | None:
        """The newest model with status challenger (the one A/B tests serve), if any."""
        candidates = [
            m
            for m in self.models.values()
            if m.status == "challenger" and m.version != self.champion
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda m: (m.created, m.updated)).version

    def status_of(self, version: str) -> Status:
        if version == self.champion:
            return "champion"
        entry = self.get(version)
        return "retired" if entry.status == "champion" else entry.status  # a dethroned champion

    def get(self, version: str) -> ModelEntry:
        try:
            return self.models[version]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise RegistryError(f"no model {version!r} in the registry (known: {known})") from None

    def rows(self) -> list[dict[str, Any]]:
        """Every model, oldest first, with its effective status."""
        out = []
        for m in sorted(self.models.values(), key=lambda m: (m.created, m.version)):
            row = m.to_json()
            row["status"] = self.status_of(m.version)
            out.append(row)
        return out

    # --- transitions (pure: the records to write) ------------------------------------------
    def register(self, entry: ModelEntry) -> list[Record]:
        """Add a model. A new challenger retires the previous one (one challenger at a time)."""
        out: list[Record] = [(entry.version, entry.to_json())]
        if entry.status == "challenger":
            old = self.challenger
            if old is not None and old != entry.version:
                retired = replace(
                    self.models[old],
                    status="retired",
                    reason=f"replaced as challenger by {entry.version}",
                    updated=entry.updated,
                )
                out.append((old, retired.to_json()))
        return out

    def register_promoted(self, entry: ModelEntry, *, reason: str, now: float) -> list[Record]:
        """Add a model as the new champion in one go (readers never see it as a challenger)."""
        scratch = RegistryState.from_records(self.records())
        for key, value in scratch.register(replace(entry, status="retired")):
            scratch.apply(key, value)
        return scratch.promote(entry.version, reason=reason, now=now)

    def records(self) -> list[Record]:
        """The state as records (what a compacted topic holds)."""
        out: list[Record] = [(v, m.to_json()) for v, m in self.models.items()]
        out.append((CHAMPION_KEY, self.pointer.to_json()))
        return out

    def promote(self, version: str, *, reason: str, now: float) -> list[Record]:
        """Make ``version`` the champion (pointer first: that one write is the promotion)."""
        entry = self.get(version)
        if version == self.champion:
            raise RegistryError(f"{version} is already the champion")
        stack = (*[v for v in self.pointer.stack if v != version], version)[-STACK_MAX:]
        pointer = Pointer(stack, (*self.pointer.history, _event("promote", version, now, reason)))
        out: list[Record] = [(CHAMPION_KEY, pointer.to_json())]
        out.append(
            (version, replace(entry, status="champion", reason=reason, updated=now).to_json())
        )
        old = self.champion
        if old is not None and old in self.models:
            dethroned = replace(
                self.models[old], status="retired", reason=f"replaced by {version}", updated=now
            )
            out.append((old, dethroned.to_json()))
        return out

    def rollback(self, *, reason: str, now: float) -> list[Record]:
        """Give the champion role back to the previous champion; the current one is retired."""
        if len(self.pointer.stack) < 2:
            raise RegistryError(
                "nothing to roll back to: the registry has had one champion or none"
            )
        current, previous = self.pointer.stack[-1], self.pointer.stack[-2]
        pointer = Pointer(
            self.pointer.stack[:-1],
            (*self.pointer.history, _event("rollback", previous, now, reason)),
        )
        out: list[Record] = [(CHAMPION_KEY, pointer.to_json())]
        if previous in self.models:
            back = replace(self.models[previous], status="champion", reason=reason, updated=now)
            out.append((previous, back.to_json()))
        if current in self.models:
            gone = replace(
                self.models[current], status="retired", reason=f"rolled back: {reason}", updated=now
            )
            out.append((current, gone.to_json()))
        return out

    def set_status(self, version: str, status: Status, *, reason: str, now: float) -> list[Record]:
        """Change a non-champion's status (e.g. retire a challenger)."""
        if status == "champion":
            return self.promote(version, reason=reason, now=now)
        if version == self.champion:
            raise RegistryError(f"{version} is the champion: promote another model or roll back")
        entry = replace(self.get(version), status=status, reason=reason, updated=now)
        return [(version, entry.to_json())]


def _event(action: str, version: str, now: float, reason: str) -> dict[str, Any]:
    return {"action": action, "version": version, "ts": now, "reason": reason}
