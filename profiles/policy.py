"""Drift and the publish policy: when has a user's interest moved enough to deserve a new list?

Drift is ``1 - cos(current interest, interest behind the last published list)``. Each user has an
adaptive threshold, ``clip(mean + k * std, floor, ceiling)`` of their own recent drift (exponential
moving statistics), so a user who always wanders needs a bigger move than a steady one, and a
drift list needs ``confirm`` consecutive events at or above it: one stray click is noise, two in a
row in the new direction are a shift. New users get a ``cold_start`` list at once; a list gets a
``refresh`` after ``refresh_events`` events or ``refresh_seconds`` of event time without one.
Everything is event-time based, so a replay makes exactly the same decisions as the live run.
Two diagnostic options, off by default (issue 13, bench/results/adapt/README.md): ``direction``
(a streak is confirmed only by events that go on from the pending move, :func:`went_on`) and
``refresh_keeps_streak`` (a refresh during a pending streak keeps the streak and the reference),
``refresh_keeps_reference`` (a refresh never moves the reference).
Neither stores anything new in a profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal, Self

import numpy as np

from profiles.packing import Reader, Writer

Trigger = Literal["cold_start", "drift", "refresh", "request"]
TRIGGERS: Final[tuple[Trigger, ...]] = ("cold_start", "drift", "refresh", "request")


@dataclass(frozen=True)
class PolicyConfig:
    """Knobs of the publish policy (settings pass them in)."""

    #: The threshold never goes below this: tiny wobbles of a settled interest never publish.
    floor: float = 0.05
    #: ... nor above this: a large move always publishes, even for a user who usually wanders.
    ceiling: float = 0.5
    #: How many standard deviations above the user's usual drift counts as a move.
    k: float = 2.0
    #: Weight of the newest drift in the moving mean and variance (about the last 1/alpha events).
    alpha: float = 0.1
    #: Consecutive events at or above the threshold before a drift list (1 = publish at once).
    confirm: int = 2
    #: Confirmation by direction: an event continues a pending streak only when it goes on from
    #: the event before it rather than back toward the published interest (:func:`went_on`:
    #: at least halfway along the pending move, on the unit sphere); otherwise the pending
    #: streak ends there (a noise click and the return from it are two events over the threshold,
    #: but not one move) and the event is judged on its own, as a possible new streak's first.
    direction: bool = False
    #: A refresh list published while a drift streak is pending keeps the streak and the drift
    #: reference (the interest behind the list before it): the move under way is still judged
    #: against where it started, not against its own first step that the refresh happened to show.
    refresh_keeps_streak: bool = False
    #: A refresh list never moves the drift reference nor ends a pending streak (implies
    #: ``refresh_keeps_streak``): drift is measured from the last list published because the
    #: interest moved (cold start or drift); a refresh only re-shows it after a while, it judges
    #: nothing, so a move that starts around a refresh is still seen whole.
    refresh_keeps_reference: bool = False
    #: Prior drift mean and std of a new user, before their own statistics exist.
    prior_mean: float = 0.1
    prior_std: float = 0.05
    #: A list is refreshed after this many events without a new one ...
    refresh_events: int = 50
    #: ... or this many seconds of event time.
    refresh_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 <= self.floor <= self.ceiling <= 2:
            raise ValueError(f"need 0 <= floor <= ceiling <= 2, got {self.floor}, {self.ceiling}")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.confirm < 1 or self.refresh_events < 1 or self.refresh_seconds <= 0:
            raise ValueError(
                "confirm and refresh_events must be >= 1 and refresh_seconds > 0, got "
                f"{self.confirm}, {self.refresh_events}, {self.refresh_seconds}"
            )
        if self.k < 0 or self.prior_mean < 0 or self.prior_std < 0:
            raise ValueError("k, prior_mean and prior_std must be >= 0")


def cosine_drift(current: np.ndarray, published: np.ndarray) -> np.ndarray:
    """``1 - cos`` row by row: current (B, D), published (B, D) -> (B,) in [0, 2]."""
    num = np.sum(current * published, axis=-1)  # (B,)
    den = np.linalg.norm(current, axis=-1) * np.linalg.norm(published, axis=-1)  # (B,)
    cos = np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)
    return np.clip(1.0 - cos, 0.0, 2.0).astype(np.float32)


def went_on(published: np.ndarray, previous: np.ndarray, current: np.ndarray) -> bool:
    """Did ``current`` go on from ``previous`` rather than back toward ``published``? All (D,).

    On the unit sphere (drift is a cosine), ``current`` projected on the line from ``published``
    to ``previous`` lies at least halfway along it: nearer the pending interest than the published
    one, in the direction of the pending move (steps across it, which a switch makes as much as
    a return from a noise click, do not count).
    """

    def unit(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    a, p, c = unit(published), unit(previous), unit(current)
    move = p - a
    length2 = float(move @ move)
    if length2 == 0.0:
        return True
    return float((c - a) @ move) >= 0.5 * length2


@dataclass
class DriftState:
    """One user's drift statistics: moving mean/variance and the current above-threshold streak.

    ``update(drift) -> self`` compares the drift with the threshold *before* folding it into the
    statistics (a shift must stand out against the past, not against itself). Drift at or above
    the threshold starts (or extends) a pending streak, and while it is pending the statistics
    and therefore the threshold stay where they were: a shift that builds up over a few events is
    judged against the user's settled past, not against its own first steps. When the streak
    ends (drift falls back below, or a list is published), each pending event is folded in as the
    threshold's value, i.e. winsorised at it, so one outlier (a noise click) barely moves the
    statistics and a user who often wanders still gets a higher threshold. No pending drift
    needs storing: a winsorised pending value is the (frozen) threshold itself.
    """

    mean: float
    var: float
    streak: int = 0
    config: PolicyConfig = PolicyConfig()

    @classmethod
    def new(cls, config: PolicyConfig) -> DriftState:
        return cls(mean=config.prior_mean, var=config.prior_std**2, streak=0, config=config)

    def get(self) -> float:
        """The current threshold (frozen while a streak is pending)."""
        c = self.config
        return float(min(max(self.mean + c.k * math.sqrt(self.var), c.floor), c.ceiling))

    def update(self, drift: float, onward: bool = True) -> Self:
        """Fold in one event's drift; ``onward``: the event went on from the previous one rather
        than back toward the published interest (only read with ``config.direction``)."""
        threshold = self.get()
        if drift >= threshold:
            if self.streak and self.config.direction and not onward:
                # The pending move is being undone: it ends, and this event (a way back, not a
                # move of its own) is folded in like the pending ones, winsorised at the threshold.
                self._settle()
                self._fold(min(drift, self.get()))
                return self
            self.streak += 1  # pending: folded in when the streak ends
            return self
        self._settle()
        self._fold(drift)
        return self

    def published(self) -> None:
        """A list was just published: the pending streak ends and the next starts from zero."""
        self._settle()

    def _settle(self) -> None:
        """Fold the pending streak in, each event winsorised at the frozen threshold."""
        for _ in range(self.streak):
            self._fold(self.get())
        self.streak = 0

    def _fold(self, drift: float) -> None:
        a = self.config.alpha
        delta = drift - self.mean
        self.mean += a * delta
        self.var = (1 - a) * (self.var + a * delta * delta)

    def write(self, w: Writer) -> None:
        w.f64(self.mean)
        w.f64(self.var)
        w.u32(self.streak)

    @classmethod
    def read(cls, r: Reader, config: PolicyConfig) -> DriftState:
        return cls(mean=r.f64(), var=r.f64(), streak=r.u32(), config=config)

    def to_bytes(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, config: PolicyConfig | None = None) -> DriftState:
        r = Reader(data)
        out = cls.read(r, config or PolicyConfig())
        r.done()
        return out


def decide(
    config: PolicyConfig,
    *,
    has_list: bool,
    streak: int,
    events_since_list: int,
    ts: float,
    list_ts: float | None,
) -> Trigger | None:
    """The trigger for publishing after this event, or None (first matching rule wins)."""
    if not has_list:
        return "cold_start"
    if streak >= config.confirm:
        return "drift"
    if events_since_list >= config.refresh_events:
        return "refresh"
    if list_ts is not None and ts - list_ts >= config.refresh_seconds:
        return "refresh"
    return None
