"""The item hold's bookkeeping (streams.worker.itemwait) and the commit guard
(streams.faustcompat.commitguard)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer

from streams.faustcompat import commitguard
from streams.worker.itemwait import ItemWait, Waiting


def w(user: str, item: str | None, offset: int, since: float = 0.0, tp: str = "t0") -> Waiting:
    return Waiting(ev=f"{user}@{offset}", user=user, item=item, tp=tp, offset=offset, since=since)


def evs(waiting: list[Waiting]) -> list[Any]:
    return [x.ev for x in waiting]


def test_an_unknown_item_holds_the_user_and_later_events_behind_it() -> None:
    hold = ItemWait(wait_s=10, max_events=100)
    new = [w("a", "x", 1), w("b", "k", 2), w("a", "k", 3), w("a", None, 4)]
    plan = hold.plan(new, known={"k"}, now=0.0)
    assert evs(plan.release) == ["b@2"]  # a's known-item events wait behind a@1
    assert evs(plan.newly_held) == ["a@1", "a@3", "a@4"] and not plan.released_held
    hold.adopt(plan)
    assert len(hold) == 3 and hold.floor("t0") == 1 and hold.floor("t9") is None
    assert hold.items() == {"x", "k"}

    plan = hold.plan([w("a", "k", 5)], known={"k"}, now=1.0)  # still missing: more waits
    assert not plan.release and evs(plan.newly_held) == ["a@5"]
    hold.adopt(plan)
    plan = hold.plan([], known={"k", "x"}, now=2.0)  # the item arrived: all, in order
    assert evs(plan.release) == ["a@1", "a@3", "a@4", "a@5"] and not plan.given_up
    assert evs(plan.released_held) == evs(plan.release)
    hold.adopt(plan)
    assert len(hold) == 0 and hold.floor("t0") is None


def test_a_later_missing_item_becomes_the_new_head() -> None:
    hold = ItemWait(wait_s=10, max_events=100)
    hold.adopt(
        hold.plan([w("a", "x", 1), w("a", "k", 2), w("a", "y", 3), w("a", "k", 4)], {"k"}, 0)
    )
    plan = hold.plan([], known={"k", "x"}, now=1.0)
    assert evs(plan.release) == ["a@1", "a@2"]
    hold.adopt(plan)
    assert hold.floor("t0") == 3 and len(hold) == 2


def test_an_item_still_missing_after_the_bound_is_given_up_and_the_rest_goes_on() -> None:
    hold = ItemWait(wait_s=10, max_events=100)
    hold.adopt(hold.plan([w("a", "x", 1, since=0.0), w("a", "k", 2, since=0.0)], {"k"}, 0.0))
    assert not hold.plan([], {"k"}, now=9.9).release
    plan = hold.plan([], {"k"}, now=10.0)
    assert evs(plan.release) == ["a@1", "a@2"] and evs(plan.given_up) == ["a@1"]


def test_the_count_bound_gives_up_the_oldest_head() -> None:
    hold = ItemWait(wait_s=100, max_events=2)
    hold.adopt(hold.plan([w("a", "x", 1, since=0.0), w("a", "k", 2, since=0.0)], {"k"}, 0.0))
    plan = hold.plan([w("b", "y", 3, since=1.0)], {"k"}, now=1.0)
    assert evs(plan.given_up) == ["a@1"] and evs(plan.release) == ["a@1", "a@2"]
    assert evs(plan.newly_held) == ["b@3"]
    hold.adopt(plan)
    assert len(hold) == 1


def test_redeliveries_forget_and_drop() -> None:
    hold = ItemWait(wait_s=10, max_events=100)
    hold.adopt(hold.plan([w("a", "x", 1), w("b", "y", 2, tp="t1")], set(), 0.0))
    plan = hold.plan([w("a", "x", 1)], set(), 0.0)  # the same offset again: held once
    assert len(plan.held["a"]) == 1 and not plan.newly_held
    assert evs(hold.forget(["a"])) == ["a@1"] and hold.users() == {"b"}
    assert evs(hold.drop(lambda x: x.tp != "t1")) == ["b@2"] and len(hold) == 0


def fake_consumer(acked: list[int], committed: int | None) -> Any:
    tp = "tp"
    c = SimpleNamespace(
        _acked=defaultdict(list, {tp: list(acked)}),
        _acked_index=defaultdict(set, {tp: set(acked)}),
        _gap=defaultdict(list),  # no gaps in the partition
        _committed_offset=defaultdict(lambda: None, {tp: committed}),
    )
    return c


def test_faust_alone_commits_past_one_unacknowledged_offset() -> None:
    """Why the guard exists: offset 10 (held) unacknowledged, 11 and 12 acknowledged."""
    c = fake_consumer([11, 12], committed=10)
    assert commitguard._original_new_offset(c, "tp") == 13  # skips 10
    c = fake_consumer([0, 1, 3, 4], committed=None)
    assert commitguard._original_new_offset(c, "tp") == 2


def test_the_guard_stops_commits_at_the_floor_and_keeps_later_acks() -> None:
    floors: dict[str, int] = {"tp": 10}
    commitguard.set_floor(floors.get)
    try:
        c = fake_consumer([8, 9, 11, 12], committed=8)
        assert commitguard.new_offset_below_floor(c, "tp") == 10  # 8 and 9 done, not past 10
        assert c._acked["tp"] == [11, 12]
        assert commitguard.new_offset_below_floor(c, "tp") is None
        del floors["tp"]  # the held event was handled and acknowledged late
        c._acked["tp"].append(10)
        c._acked_index["tp"].add(10)
        c._committed_offset["tp"] = 10
        assert commitguard.new_offset_below_floor(c, "tp") == 13
    finally:
        commitguard.set_floor(lambda tp: None)


def test_install_patches_the_consumer() -> None:
    saved = Consumer._new_offset
    try:
        commitguard.install()
        assert Consumer._new_offset is commitguard.new_offset_below_floor
    finally:
        Consumer._new_offset = saved  # type: ignore[method-assign]
