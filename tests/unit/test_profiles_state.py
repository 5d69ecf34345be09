"""Conformance of every online-state class (round-trip, purity, determinism); the profile codec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles.errors import ProfileError
from profiles.policy import DriftState, PolicyConfig
from profiles.profile import Applied, RecentEvent, UserProfile, source_key
from streams.messages.records import ACTIONS

D, S = 8, 16


def applied(i: int, rng: np.random.Generator, *, drift: float | None = None) -> Applied:
    return Applied(
        event=RecentEvent(
            f"e{i}", f"i{i % 5}" if i % 4 else None, ACTIONS[i % len(ACTIONS)], 1e9 + i
        ),
        source=source_key("behaviour-events", i % 2),
        offset=i,
        state=rng.standard_normal(S).astype(np.float32),
        long_term=rng.standard_normal(D).astype(np.float32),
        interest=rng.standard_normal(D).astype(np.float32),
        drift=float(rng.uniform(0, 1)) if drift is None else drift,
    )


def new_profile() -> UserProfile:
    p = UserProfile("u1", "m-test", np.zeros(S, np.float32), D, window=5)
    return p


@dataclass
class Spec:
    name: str
    make: Callable[[], Any]
    inputs: Callable[[int], list[Any]]
    decode: Callable[[bytes], Any]


def _profile_inputs(n: int) -> list[Any]:
    rng = np.random.default_rng(n)
    return [applied(i, rng) for i in range(n)]


SPECS = [
    Spec("UserProfile", new_profile, _profile_inputs, UserProfile.from_bytes),
    Spec(
        "DriftState",
        lambda: DriftState.new(PolicyConfig()),
        lambda n: [float(x) for x in np.random.default_rng(n).uniform(0, 1, n)],
        DriftState.from_bytes,
    ),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_round_trip_after_updates(spec: Spec) -> None:
    state = spec.make()
    for x in spec.inputs(12):
        assert state.update(x) is state
        assert spec.decode(state.to_bytes()).to_bytes() == state.to_bytes()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_deterministic(spec: Spec) -> None:
    a, b = spec.make(), spec.make()
    for x in spec.inputs(9):
        a.update(x)
    for x in spec.inputs(9):
        b.update(x)
    assert a.to_bytes() == b.to_bytes()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_pure_serialisation_and_independent_copies(spec: Spec) -> None:
    state = spec.make()
    inputs = spec.inputs(6)
    for x in inputs[:3]:
        state.update(x)
    before = state.to_bytes()
    assert state.to_bytes() == before  # serialising changes nothing
    clone = spec.decode(before)
    for x in inputs[3:]:
        clone.update(x)
    assert state.to_bytes() == before  # updating a decoded copy leaves the original alone
    assert clone.to_bytes() != before


def test_update_does_not_alias_input_arrays() -> None:
    p = new_profile()
    a = applied(1, np.random.default_rng(0))
    p.update(a)
    a.state[:] = 99.0
    a.interest[:] = 99.0
    assert not np.any(p.state == 99.0) and not np.any(p.get() == 99.0)


def test_profile_tracks_offsets_and_window() -> None:
    p = new_profile()
    rng = np.random.default_rng(0)
    for i in range(8):
        p.update(applied(i, rng))
    assert p.events_applied == 8 and p.last_event_id == "e7"
    assert [e.event_id for e in p.recent] == ["e3", "e4", "e5", "e6", "e7"]  # window of 5
    assert p.offsets == {"behaviour-events:0": 6, "behaviour-events:1": 7}
    assert p.consumed() == {"i3", "i0", "i1", "i2"}  # e4 has no item; ids are i{i%5}
    assert p.gap_s(1e9 + 10) == 3.0 and p.gap_s(0.0) == 0.0


def test_drift_statistics_only_start_with_a_published_list() -> None:
    p = new_profile()
    rng = np.random.default_rng(0)
    p.update(applied(0, rng, drift=0.9))
    assert p.drift.to_bytes() == DriftState.new(p.config).to_bytes()
    p.mark_published(1e9)
    assert p.published is not None and np.allclose(p.published, p.get(), rtol=1e-3, atol=1e-3)
    p.update(applied(1, rng, drift=0.9))
    assert p.drift.streak == 1 and p.events_since_list == 1


def test_reset_model_keeps_offsets_and_window() -> None:
    p = new_profile()
    rng = np.random.default_rng(0)
    for i in range(3):
        p.update(applied(i, rng))
    p.mark_published(1e9)
    p.reset_model("m-other", np.ones(S, np.float32), D)
    assert p.model_version == "m-other" and p.published is None
    assert np.all(p.state == 1.0) and not np.any(p.get())
    assert p.offsets and len(p.recent) == 3 and p.events_applied == 3


def test_profile_json_view_has_the_documented_fields() -> None:
    p = new_profile()
    p.update(applied(1, np.random.default_rng(0)))
    view = p.to_json()
    documented = ("user_id", "events_applied", "last_event_id", "model_version", "interest")
    for key in (*documented, "recent"):
        assert key in view
    assert len(view["interest"]) == D and view["recent"][0]["event_id"] == "e1"


def test_default_profile_fits_in_two_kib() -> None:
    p = UserProfile("user-000123", "m-0123456789ab", np.zeros(128, np.float32), 64)
    rng = np.random.default_rng(0)
    for i in range(40):
        p.update(
            Applied(
                RecentEvent(f"evt-{i:08d}", f"item-{i:05d}", "click", 1.7e9 + i),
                "behaviour-events:3",
                i,
                rng.standard_normal(128).astype(np.float32),
                rng.standard_normal(64).astype(np.float32),
                rng.standard_normal(64).astype(np.float32),
                0.1,
            )
        )
    p.mark_published(1.7e9)
    assert len(p.to_bytes()) < 2048


ids = st.text(min_size=1, max_size=40)
floats32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    user=ids,
    version=ids,
    state=st.lists(floats32, min_size=0, max_size=12),
    events=st.lists(
        st.tuples(ids, st.none() | ids, st.sampled_from(ACTIONS), st.floats(0, 4e9)),
        max_size=8,
    ),
    offsets=st.dictionaries(ids, st.integers(-(2**63), 2**63 - 1), max_size=4),
    published=st.booleans(),
)
def test_codec_round_trips_arbitrary_profiles(
    user: str,
    version: str,
    state: list[float],
    events: list[tuple[str, str | None, str, float]],
    offsets: dict[str, int],
    published: bool,
) -> None:
    p = UserProfile(user, version, np.array(state, np.float32), 3, window=4)
    for e in events:
        p.recent.append(RecentEvent(*e))
    p.offsets = offsets
    if published:
        p.mark_published(123.0)
    q = UserProfile.from_bytes(p.to_bytes())
    assert q.to_bytes() == p.to_bytes()
    assert (q.user_id, q.model_version, list(q.recent), q.offsets) == (
        user,
        version,
        list(p.recent),
        offsets,
    )
    assert np.array_equal(q.state, p.state)


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(0, 200), junk=st.binary(max_size=64))
def test_damaged_bytes_raise_profile_error(cut: int, junk: bytes) -> None:
    good = new_profile().update(applied(1, np.random.default_rng(0))).to_bytes()
    for bad in (good[: min(cut, len(good) - 1)], good + junk[:1] if junk else good + b"x", junk):
        with pytest.raises(ProfileError):
            UserProfile.from_bytes(bad)
