"""The pseudo-word generator: same seed same bytes, truth.json consistent with the events, and
the CLI's `--generator words` wiring."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from encoders.data.folder import read_folder
from encoders.data.split import group_by_user
from encoders.data.synth import read_truth
from encoders.data.synthwords import WordsSpec, generate_words
from streams.cli import cli

SMALL = WordsSpec(users=60, items=300, topics=12, median_events=40, bot_fraction=0.05)
_SMALL_ARGS = ["--users", "60", "--items", "300", "--topics", "12", "--bot-fraction", "0.05"]


def _cli(out: Path, seed: int, *extra: str) -> CliRunner:
    args = ["data", "synth", "--generator", "words", "--out", str(out), "--seed", str(seed)]
    result = CliRunner().invoke(cli, [*args, *_SMALL_ARGS, *extra])
    assert result.exit_code == 0, result.output
    assert "synth (words)" in result.output
    return result


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    _cli(tmp_path / "a", 5)
    _cli(tmp_path / "b", 5)
    _cli(tmp_path / "c", 6)
    for name in ("items.jsonl", "events.jsonl", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    folder = read_folder(tmp_path / "a")  # every record valid, every item reference known
    assert len(folder.items) == 300
    truth = read_truth(tmp_path / "a")
    assert truth["seed"] == 5 and truth["generator"] == "words" and len(truth["topics"]) == 12


def test_topics_only_options_are_refused_with_words(tmp_path: Path) -> None:
    args = ["data", "synth", "--generator", "words", "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(cli, [*args, "--mean-segment", "12", "--image-dim", "4"])
    assert result.exit_code == 1
    assert "--image-dim, --mean-segment: only for --generator topics" in result.output
    assert not (tmp_path / "x").exists()


def test_truth_matches_the_events() -> None:
    data = generate_words(SMALL, seed=3)
    truth = data.truth
    topic_of = truth["item_topics"]
    assert set(topic_of) == {i.item_id for i in data.items}
    assert set(topic_of.values()) == set(truth["topics"])  # every topic has items
    by_user = group_by_user(data.events)
    assert [e.ts for e in data.events] == sorted(e.ts for e in data.events)
    assert set(truth["bots"]) == set(by_user) - set(truth["switches"])
    assert len(truth["bots"]) == 3
    words: dict[str, set[str]] = {t: set() for t in truth["topics"]}  # topic -> its item words
    for item in data.items:
        text = f"{item.title} {item.description}".lower().replace(",", "").replace(".", "")
        words[topic_of[item.item_id]].update(text.split())
    shared = {w for t in words for w in words[t] if any(w in words[o] for o in words if o != t)}
    search_words = found = 0
    segments: list[int] = []
    noise = on_topic = with_item = 0
    for uid, switches in truth["switches"].items():
        events = by_user[uid]
        assert [e.event_id for e in events] == [f"{uid}-{i}" for i in range(len(events))]
        assert SMALL.min_events <= len(events) <= SMALL.max_events
        assert all(b.ts > a.ts for a, b in itertools.pairwise(events))
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
            if end < len(events):
                segments.append(end - start)
                assert end - start >= SMALL.min_segment
            for e in events[start:end]:
                if e.item_id is None:
                    assert e.action == "search" and e.text is not None
                    for w in e.text.split():  # the current topic's words, no other topic's
                        assert w not in shared
                        assert not any(w in words[o] for o in words if o != current)
                        search_words += 1
                        found += w in words[current]
                    continue
                with_item += 1
                if topic_of[e.item_id] == current:
                    on_topic += 1
                else:
                    noise += 1
                    assert e.action == "click"  # noise is always a click
            start = end
    assert search_words > 20 and found > 0.8 * search_words
    share = noise / with_item
    assert SMALL.noise_rate - 0.04 < share < SMALL.noise_rate + 0.04
    assert on_topic + noise == with_item
    # heavy tail: the longest segment is several times the median one
    assert max(segments) > 3 * float(np.median(segments))


def test_bots_loop_over_one_topic() -> None:
    data = generate_words(SMALL, seed=3)
    by_user = group_by_user(data.events)
    for bot in data.truth["bots"]:
        topics = {data.truth["item_topics"][e.item_id] for e in by_user[bot] if e.item_id}
        assert len(by_user[bot]) >= 150 and len(topics) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"topics": 1}, "topics must be"),
        ({"items": 10, "topics": 20}, "two items per topic"),
        ({"noise_rate": 0.9, "search_rate": 0.2}, "below 1"),
        ({"min_events": 50, "max_events": 10}, "min_events"),
    ],
)
def test_spec_validation_names_the_bad_value(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WordsSpec(**kwargs)  # type: ignore[arg-type]


def test_without_generator_the_cli_writes_the_topics_generator_files(tmp_path: Path) -> None:
    from encoders.data.synth import SynthSpec, generate

    args = ["data", "synth", "--out", str(tmp_path / "cli"), "--seed", "2", "--users", "30"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    generate(SynthSpec(users=30), seed=2).write(tmp_path / "api")  # every other option: default
    for name in ("items.jsonl", "events.jsonl", "truth.json"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
