"""Online A/B assignment: which model serves a user, by a stable hash of the user id.

``bucket(user_id, salt)`` is a number in [0, 1) from SHA-256 of ``salt`` and the id: the same on
every worker, in every process, across restarts (Python's own ``hash`` is salted per process, so
it would not do). A user is in the challenger group when their bucket is below the share. The salt
is the challenger's version, so each new challenger is tried on a fresh sample of users rather than
on the same unlucky ones every time; while a challenger lives, its users stay with it.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

Role = Literal["champion", "challenger"]
_SCALE: Final = float(1 << 64)


def bucket(user_id: str, salt: str = "") -> float:
    """A stable number in [0, 1) for ``user_id``."""
    digest = hashlib.sha256(f"{salt}\x00{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign(user_id: str, share: float, salt: str = "") -> Role:
    """``challenger`` for about ``share`` of all users, ``champion`` for the rest."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"A/B share must be in [0, 1], got {share}")
    return "challenger" if bucket(user_id, salt) < share else "champion"
