"""The sample cutter on a small log, and the shipped Online Retail sample itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from encoders.data.folder import read_folder, write_folder
from encoders.data.sample import SampleSpec, derive_sample
from encoders.data.summary import DataImportError
from encoders.samples import sample_path
from streams.cli import cli
from streams.messages.records import BehaviourEvent, ItemRecord

T0 = 1_300_000_000.0
DAY = 86_400.0


def _log() -> tuple[list[ItemRecord], list[BehaviourEvent]]:
    items = [ItemRecord(item_id=f"i{k}", title=f"thing {k}") for k in range(10)]
    events: list[BehaviourEvent] = []
    # u0..u5: 6 events in 3 baskets within the last days; "old" only before the window;
    # "big" too many events; "one" a single basket.
    for u in range(6):
        for k in range(6):
            ts = T0 + 20 * DAY + (k // 2) * 3600 + u
            events.append(BehaviourEvent(f"u{u}-{k}", f"u{u}", ts, "purchase", f"i{(u + k) % 8}"))
    events += [BehaviourEvent(f"old-{k}", "old", T0 + k, "purchase", "i9") for k in range(6)]
    events += [
        BehaviourEvent(f"big-{k}", "big", T0 + 20 * DAY + k, "view", "i1") for k in range(30)
    ]
    events += [BehaviourEvent(f"one-{k}", "one", T0 + 21 * DAY, "view", "i2") for k in range(6)]
    events.sort(key=lambda e: e.ts)
    return items, events


def test_sample_keeps_eligible_users_in_window_and_is_deterministic() -> None:
    items, events = _log()
    spec = SampleSpec(users=3, window_days=5, min_events=4, max_events=10, min_baskets=2)
    s_items, s_events = derive_sample(items, events, spec)
    users = {e.user_id for e in s_events}
    assert len(users) == 3 and users <= {f"u{u}" for u in range(6)}
    assert all(len([e for e in s_events if e.user_id == u]) == 6 for u in users)
    assert [e.ts for e in s_events] == sorted(e.ts for e in s_events)
    assert {i.item_id for i in s_items} == {e.item_id for e in s_events}
    again = derive_sample(list(reversed(items)), events, spec)
    assert {e.event_id for e in again[1]} == {e.event_id for e in s_events}


def test_sample_too_few_users_says_what_to_change() -> None:
    items, events = _log()
    with pytest.raises(DataImportError, match="only 6 users qualify"):
        derive_sample(
            items, events, SampleSpec(users=7, window_days=5, min_events=4, max_events=10)
        )


def test_spec_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="min_events"):
        SampleSpec(min_events=5, max_events=2)


def test_cli_sample(tmp_path: Path) -> None:
    items, events = _log()
    write_folder(tmp_path / "full", items, events)
    args = ["data", "sample", str(tmp_path / "full"), "--out", str(tmp_path / "s"), "--users", "2"]
    args += ["--window-days", "5", "--min-events", "4", "--max-events", "10"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "sample: 12 events" in result.output
    assert len(read_folder(tmp_path / "s").events) == 12


def test_shipped_sample_is_valid_and_sized_for_the_demo() -> None:
    path = sample_path()
    folder = read_folder(path)  # validates every record and every item reference
    users = {e.user_id for e in folder.events}
    assert 200 <= len(users) <= 300
    assert 10_000 <= len(folder.events) <= 20_000
    assert {e.action for e in folder.events} == {"purchase"}
    size = sum(p.stat().st_size for p in path.glob("*.jsonl"))
    assert size < 2_000_000
    assert "CC BY 4.0" in (path / "CREDIT.md").read_text()
    result = CliRunner().invoke(cli, ["data", "sample-path"])
    assert result.output.strip() == str(path)
