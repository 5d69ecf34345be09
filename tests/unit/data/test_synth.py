"""Synthetic generator: determinism per seed, and truth.json consistent with the events."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from encoders.data.folder import read_folder
from encoders.data.split import group_by_user
from encoders.data.synth import SynthSpec, generate, read_truth
from encoders.data.vocabulary import TOPICS
from streams.cli import cli

SMALL = SynthSpec(users=40, items=80, topics=4, min_events=20, max_events=40, bot_fraction=0.1)


def _cli(out: Path, seed: int) -> None:
    args = ["data", "synth", "--out", str(out), "--seed", str(seed), "--users", "40"]
    args += ["--items", "80", "--topics", "4", "--min-events", "20", "--max-events", "40"]
    args += ["--bot-fraction", "0.1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "switches" in result.output


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    _cli(tmp_path / "a", 7)
    _cli(tmp_path / "b", 7)
    _cli(tmp_path / "c", 8)
    for name in ("items.jsonl", "events.jsonl", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "events.jsonl").read_bytes() != (
        tmp_path / "c" / "events.jsonl"
    ).read_bytes()
    folder = read_folder(tmp_path / "a")  # every record valid, every item reference known
    assert len(folder.items) == 80
    assert read_truth(tmp_path / "a")["seed"] == 7


def test_truth_matches_the_events() -> None:
    data = generate(SMALL, seed=3)
    truth = data.truth
    topic_of = truth["item_topics"]
    by_user = group_by_user(data.events)
    assert [e.ts for e in data.events] == sorted(e.ts for e in data.events)
    assert set(truth["bots"]) == set(by_user) - set(truth["switches"])
    assert len(truth["bots"]) == 4
    n_switches = 0
    on_topic = total = 0
    for uid, switches in truth["switches"].items():
        events = by_user[uid]
        assert [e.event_id for e in events] == [f"{uid}-{i}" for i in range(len(events))]
        assert SMALL.min_events <= len(events) <= SMALL.max_events
        current = truth["start_topics"][uid]
        bounds = [s["event_index"] for s in switches] + [len(events)]
        start = 0
        for switch, end in zip([None, *switches], bounds, strict=True):
            if switch is not None:
                first = events[switch["event_index"]]
                assert switch["from_topic"] == current != switch["to_topic"]
                assert first.ts == switch["ts"] and first.item_id is not None
                assert topic_of[first.item_id] == switch["to_topic"]
                current = switch["to_topic"]
                assert end - start >= SMALL.min_segment or end == len(events)
            for e in events[start:end]:
                total += 1
                on_topic += e.item_id is not None and topic_of[e.item_id] == current
                if e.action == "search":  # searches use the current topic's words
                    assert e.text is not None and e.text.split()[0] in " ".join(TOPICS[current][1])
            start = end
        n_switches += len(switches)
    assert n_switches > len(truth["switches"])  # most users switch, several times
    share = on_topic / total
    assert 1 - SMALL.noise_rate - SMALL.search_rate - 0.05 < share < 1.0  # noise exists, is rare


def test_bots_are_bursty() -> None:
    data = generate(SMALL, seed=3)
    by_user = group_by_user(data.events)
    for bot in data.truth["bots"]:
        gaps = [b.ts - a.ts for a, b in zip(by_user[bot], by_user[bot][1:], strict=False)]
        assert len(by_user[bot]) >= 60
        assert sorted(gaps)[len(gaps) // 2] < 5.0  # median gap of seconds


def test_items_carry_topic_words_and_image_vectors() -> None:
    data = generate(SMALL, seed=1)
    for item in data.items[:20]:
        topic = data.truth["item_topics"][item.item_id]
        assert any(noun in item.title for noun in TOPICS[topic][1])
        assert len(item.modalities["image"]) == SMALL.image_dim
    no_image = generate(SynthSpec(users=5, items=10, topics=2, image_dim=0), seed=1)
    assert all(not item.modalities for item in no_image.items)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"topics": 1}, "topics must be"),
        ({"min_events": 50, "max_events": 10}, "min_events"),
        ({"noise_rate": 1.5}, "noise_rate"),
        ({"mean_segment": 2.0, "min_segment": 5}, "min_segment"),
    ],
)
def test_spec_validation_names_the_bad_value(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SynthSpec(**kwargs)  # type: ignore[arg-type]


def test_item_seed_gives_a_held_out_log_over_the_same_catalog(tmp_path: Path) -> None:
    base = generate(SMALL, seed=4)
    held_out = generate(SMALL, seed=9, item_seed=4)
    assert [i.to_json() for i in held_out.items] == [i.to_json() for i in base.items]
    assert held_out.truth["item_topics"] == base.truth["item_topics"]
    assert [e.item_id for e in held_out.events] != [e.item_id for e in base.events]
    again = generate(SMALL, seed=9, item_seed=4)
    assert [e.to_json() for e in again.events] == [e.to_json() for e in held_out.events]
