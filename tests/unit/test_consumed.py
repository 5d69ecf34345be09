"""The exclusion policy: the consumed-items Bloom filter (false-positive rate, no false negatives),
its place in the profile (v2 format, v1 still read, size budget) and in retrieval and the engine
(recent / consumed / none)."""

from __future__ import annotations

import numpy as np
import pytest

from profiles.consumed import ConsumedFilter
from profiles.engine import Engine
from profiles.errors import ProfileError
from profiles.policy import PolicyConfig
from profiles.profile import MAGIC_V1, Applied, RecentEvent, UserProfile
from profiles.retrieval import ItemIndex, Query, items_from
from tests.fakes import FakeModel, catalog
from tests.unit.test_engine import Run, ev, incoming


@pytest.mark.parametrize("n", [50, 100, 200])
def test_false_positive_rate_matches_its_formula(n: int) -> None:
    f = ConsumedFilter(128, 4)
    members = [f"item-{i:06d}" for i in range(n)]
    f.update(members)
    assert all(m in f for m in members)  # never a false negative
    probes = [f"other-{i:06d}" for i in range(20_000)]
    measured = sum(p in f for p in probes) / len(probes)
    expected = f.false_positive_rate()
    # Binomial noise on 20,000 probes plus the formula's own approximation.
    assert (
        abs(measured - expected) <= 3 * np.sqrt(expected * (1 - expected) / 20_000) + 0.2 * expected
    )
    assert {50: 0.002, 100: 0.015, 200: 0.1}[n] > expected


def test_filter_is_stable_and_validates_its_size() -> None:
    a, b = ConsumedFilter(16, 3), ConsumedFilter(16, 3)
    a.add("x")
    b.add("x")
    assert a == b and a.to_bytes() == b.to_bytes() and "x" in a and 42 not in a
    assert ConsumedFilter.from_parts(a.to_bytes(), 3, 1) == a
    with pytest.raises(ValueError, match="filter size"):
        ConsumedFilter(0)
    with pytest.raises(ValueError, match="hashes"):
        ConsumedFilter(8, 0)


def _applied(i: int, item: str | None, dim: int = 4) -> Applied:
    z = np.zeros(dim, np.float32)
    return Applied(
        RecentEvent(f"e{i}", item, "click", 1.7e9 + i), "ev:0", i, np.zeros(2 * dim), z, z, 0.0
    )


def test_items_leaving_the_window_go_into_the_filter() -> None:
    p = UserProfile("u", "m", np.zeros(8, np.float32), 4, window=3, filter_bytes=32)
    for i in range(6):
        p.update(_applied(i, f"item-{i}" if i != 1 else None))
    assert p.consumed() == {"item-3", "item-4", "item-5"}  # the window, exactly
    assert p.consumed_filter is not None and p.consumed_filter.count == 2  # item-0, item-2
    assert all(p.has_consumed(f"item-{i}") for i in (0, 2, 3, 4, 5))
    q = UserProfile.from_bytes(p.to_bytes())
    assert q.consumed_filter == p.consumed_filter and q.to_bytes() == p.to_bytes()
    plain = UserProfile("u", "m", np.zeros(8, np.float32), 4, window=3)
    for i in range(6):
        plain.update(_applied(i, f"item-{i}"))
    assert plain.consumed_filter is None and not plain.has_consumed("item-0")


def test_version_one_profiles_are_still_read() -> None:
    p = UserProfile("u", "m", np.zeros(8, np.float32), 4, window=3)
    p.update(_applied(0, "item-0"))
    v2 = p.to_bytes()
    v1 = MAGIC_V1 + v2[4:-1]  # v1 had no filter section (v2 writes a 0 byte: none)
    q = UserProfile.from_bytes(v1)
    assert q.consumed() == {"item-0"} and q.consumed_filter is None
    with pytest.raises(ProfileError):
        UserProfile.from_bytes(v1 + b"\x00")  # v1 must end after the window


def test_profile_with_filter_and_sample_sized_ids_fits_in_two_kib() -> None:
    # The shipped sample's longest ids: user 5, event 10, item 6 characters; D = 64.
    p = UserProfile("17750", "m-0123456789ab", np.zeros(128, np.float32), 64, filter_bytes=128)
    rng = np.random.default_rng(0)
    for i in range(300):
        a = Applied(
            RecentEvent(f"57{i:04d}-100", f"9{i:04d}B", "purchase", 1.7e9 + i),
            "behaviour-events:3",
            i,
            rng.standard_normal(128).astype(np.float32),
            rng.standard_normal(64).astype(np.float32),
            rng.standard_normal(64).astype(np.float32),
            0.1,
        )
        p.update(a)
    p.mark_published(1.7e9)
    assert len(p.to_bytes()) <= 2048


def test_retrieval_skips_probable_exclusions_and_applies_boosts() -> None:
    rng = np.random.default_rng(1)
    index = items_from(((f"i{n}", rng.standard_normal(4).astype(np.float32)) for n in range(50)), 4)
    user = rng.standard_normal(4).astype(np.float32)
    plain = [s.item_id for s in index.top_k([Query(user, frozenset(), ())], 10)[0]]
    hidden = set(plain[:7])
    got = [s.item_id for s in index.top_k([Query(user, frozenset(), (), hidden)], 10)[0]]
    full = [s.item_id for s in index.top_k([Query(user, frozenset(), ())], 50)[0]]
    assert got == [i for i in full if i not in hidden][:10]
    worst = full[-1]
    boosted = index.top_k([Query(user, frozenset(), (), None, {worst: 1e6})], 3)[0]
    assert boosted[0].item_id == worst
    everything = set(full)
    assert index.top_k([Query(user, frozenset(), (), everything)], 5)[0] == []


def _engine(exclude: str) -> Engine:
    model = FakeModel()
    index: ItemIndex = ItemIndex(model.dim)
    for emb in model.embed_items(catalog({"tea": 12, "garden": 12})):
        index.upsert(emb.item_id, emb.vec, emb)
    return Engine(
        model,
        index,
        PolicyConfig(refresh_events=1),
        top_k=5,
        window=3,
        exclude=exclude,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("exclude", ["recent", "consumed", "none"])
def test_exclusion_policy_in_the_engine(exclude: str) -> None:
    run = Run(_engine(exclude))
    consumed = [f"tea-{i}" for i in range(8)]
    run.feed(incoming([ev(i, "u", item) for i, item in enumerate(consumed)]))
    last = [s.item_id for s in run.lists[-1].items]
    window = set(consumed[-3:])
    profile = run.profile("u")
    assert profile is not None
    if exclude == "none":
        assert window & set(last)  # the closest items are the ones just seen
        assert profile.consumed_filter is None
    elif exclude == "recent":
        assert not window & set(last) and set(consumed[:5]) & set(last)
    else:
        assert not set(consumed) & set(last)  # nothing the user ever saw comes back
        assert profile.consumed_filter is not None and profile.consumed_filter.count == 5


def test_consumed_policy_adds_a_filter_to_older_profiles() -> None:
    run = Run(_engine("recent"))
    run.feed(incoming([ev(i, "u", f"tea-{i}") for i in range(4)]))
    assert run.profile("u").consumed_filter is None  # type: ignore[union-attr]
    run.engine = _engine("consumed")
    run.feed(incoming([ev(i, "u", f"tea-{i}") for i in range(4, 8)], start=4))
    p = run.profile("u")
    assert p is not None and p.consumed_filter is not None
    # tea-0 left the window before the filter existed (not known); tea-1..4 left after.
    assert p.consumed_filter.count == 4 and all(p.has_consumed(f"tea-{i}") for i in range(1, 8))
