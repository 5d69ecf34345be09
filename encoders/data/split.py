"""Per-user chronological leave-last-out split, the one protocol every model is evaluated on.

For each user (events already in time order, equal ``ts`` in file order):

* only *item events* (events with an ``item_id``) can be targets;
* test target = the item of the user's last item event, valid target = the item of the second to
  last one; everything before the valid event is the user's training part;
* a user with fewer than 3 item events is skipped (``Split.skipped_users`` counts them): one item
  event of training history is the least a sequential model can condition on;
* events after the test event (e.g. a trailing free-text search) are after the target and dropped.

The history a model may see for a prediction is every event of that user *before* the target
event: ``UserSplit.history("valid")`` = the training part, ``history("test")`` = training part +
the valid event (+ any non-item events in between).

A *split file* (JSON ``{user_id: {"valid": item_id, "test": item_id}}``) overrides the targets,
for comparisons with other systems: the test event is the user's last event on the test item, the
valid event the last event on the valid item before it. When a split file is given, only users it
names are evaluated.

Users who are not evaluated (too short, or absent from a split file) are not thrown away: their
whole history is training data (``Split.train_events``), as it would be for any user in a live log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from streams.messages.records import BehaviourEvent

MIN_ITEM_EVENTS = 3
Stage = Literal["valid", "test"]


class SplitError(ValueError):
    """A split cannot be built (bad split file, targets missing from a user's log)."""


@dataclass(frozen=True)
class UserSplit:
    """One evaluated user: events up to and including the test event, and the target positions."""

    user_id: str
    events: tuple[BehaviourEvent, ...]
    valid_pos: int
    test_pos: int

    def __post_init__(self) -> None:
        if not 0 < self.valid_pos < self.test_pos < len(self.events):
            raise SplitError(
                f"user {self.user_id!r}: need 0 < valid_pos ({self.valid_pos}) < test_pos "
                f"({self.test_pos}) < len(events) ({len(self.events)})"
            )

    @property
    def train_events(self) -> tuple[BehaviourEvent, ...]:
        return self.events[: self.valid_pos]

    @property
    def valid_item(self) -> str:
        item = self.events[self.valid_pos].item_id
        assert item is not None  # valid_pos always points at an item event
        return item

    @property
    def test_item(self) -> str:
        item = self.events[self.test_pos].item_id
        assert item is not None
        return item

    def target(self, stage: Stage) -> str:
        return self.valid_item if stage == "valid" else self.test_item

    def history(self, stage: Stage) -> tuple[BehaviourEvent, ...]:
        """Every event of this user strictly before the ``stage`` target event."""
        return self.events[: self.valid_pos if stage == "valid" else self.test_pos]


@dataclass(frozen=True)
class Split:
    users: tuple[UserSplit, ...]
    #: Events of users who are not evaluated; they are training data in full.
    unevaluated_events: tuple[BehaviourEvent, ...]
    #: Users with fewer than MIN_ITEM_EVENTS item events (or, with a split file, not named in it).
    skipped_users: int
    #: True when the targets came from a split file.
    from_file: bool = False

    def train_events(self) -> list[BehaviourEvent]:
        """All training events (every evaluated user's training part and every unevaluated user's
        whole log), in global time order (stable)."""
        events = [e for u in self.users for e in u.train_events] + list(self.unevaluated_events)
        order = {id(e): i for i, e in enumerate(events)}
        events.sort(key=lambda e: (e.ts, order[id(e)]))
        return events

    def user_ids(self) -> list[str]:
        return [u.user_id for u in self.users]


def group_by_user(events: Iterable[BehaviourEvent]) -> dict[str, list[BehaviourEvent]]:
    """Events per user, each user's list in the order given (first-seen user order)."""
    by_user: dict[str, list[BehaviourEvent]] = {}
    for event in events:
        by_user.setdefault(event.user_id, []).append(event)
    return by_user


def _last_index(events: Sequence[BehaviourEvent], item_id: str, before: int) -> int | None:
    for i in range(min(before, len(events)) - 1, -1, -1):
        if events[i].item_id == item_id:
            return i
    return None


def leave_last_out(
    events: Iterable[BehaviourEvent], overrides: Mapping[str, Mapping[str, str]] | None = None
) -> Split:
    """Build the split from time-ordered events; ``overrides`` is a parsed split file."""
    users: list[UserSplit] = []
    rest: list[BehaviourEvent] = []
    skipped = 0
    by_user = group_by_user(events)
    if overrides is not None:
        unknown = sorted(set(overrides) - set(by_user))
        if unknown:
            raise SplitError(
                f"split file names {len(unknown)} user(s) with no events, e.g. {unknown[0]!r}"
            )
    for user_id, user_events in by_user.items():
        if overrides is None:
            item_pos = [i for i, e in enumerate(user_events) if e.item_id is not None]
            if len(item_pos) < MIN_ITEM_EVENTS:
                skipped += 1
                rest.extend(user_events)
                continue
            valid_pos, test_pos = item_pos[-2], item_pos[-1]
        else:
            if user_id not in overrides:
                skipped += 1
                rest.extend(user_events)
                continue
            valid_pos, test_pos = _override_positions(user_id, user_events, overrides[user_id])
        users.append(UserSplit(user_id, tuple(user_events[: test_pos + 1]), valid_pos, test_pos))
    return Split(tuple(users), tuple(rest), skipped, from_file=overrides is not None)


def _override_positions(
    user_id: str, events: Sequence[BehaviourEvent], targets: Mapping[str, str]
) -> tuple[int, int]:
    test_pos = _last_index(events, targets["test"], len(events))
    if test_pos is None:
        raise SplitError(f"split file: user {user_id!r} never has test item {targets['test']!r}")
    valid_pos = _last_index(events, targets["valid"], test_pos)
    if valid_pos is None:
        raise SplitError(
            f"split file: user {user_id!r} has no event on valid item {targets['valid']!r} "
            f"before the test item {targets['test']!r}"
        )
    if valid_pos == 0:
        raise SplitError(
            f"split file: user {user_id!r} has no training event before the valid item"
        )
    return valid_pos, test_pos


def read_split_file(path: Path) -> dict[str, dict[str, str]]:
    """Parse and validate a split file: ``{user_id: {"valid": item_id, "test": item_id}}``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SplitError(f"{path}: cannot read split file ({exc})") from exc
    if not isinstance(raw, dict):
        raise SplitError(f"{path}: a split file is a JSON object user_id -> {{valid, test}}")
    out: dict[str, dict[str, str]] = {}
    for user_id, targets in raw.items():
        if (
            not isinstance(targets, dict)
            or not isinstance(targets.get("valid"), str)
            or not isinstance(targets.get("test"), str)
        ):
            raise SplitError(
                f'{path}: user {user_id!r} must map to {{"valid": item_id, "test": item_id}}'
            )
        out[user_id] = {"valid": targets["valid"], "test": targets["test"]}
    return out
