"""MovieLens importer on tiny hand-written files in each layout (the real data may not ship)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from encoders.data.folder import read_folder
from encoders.data.movielens import WEEK_S, import_movielens, split_title
from encoders.data.summary import DataImportError
from streams.cli import cli
from streams.messages.records import MIN_TS

T = 1_000_000_000  # 2001-09-09, inside the contract's range


def _flags(*on: int) -> str:
    return "|".join("1" if k in on else "0" for k in range(19))


def _ml100k(folder: Path) -> None:
    folder.mkdir()
    (folder / "u.item").write_text(
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{_flags(3, 4, 5)}\n"
        f"2|Shawshank Redemption, The (1994)|01-Jan-1994||http://x|{_flags(8)}\n"
        "3|broken line\n",
        encoding="latin-1",
    )
    (folder / "u.data").write_text(
        "196\t1\t3\t881250949\n"
        "196\t2\t5\t881250950\n"
        "186\t2\t4\t891717742\n"
        "186\t99\t4\t891717743\n"  # unknown movie
        "186\tx\n"  # malformed
        "196\t1\t4\t881250960\n"  # duplicate pair
        "22\t1\t0\t881250970\n",  # bad rating
        encoding="latin-1",
    )


def test_split_title_moves_article_and_reads_year() -> None:
    assert split_title("Shawshank Redemption, The (1994)") == ("The Shawshank Redemption", 1994)
    assert split_title("Toy Story (1995)") == ("Toy Story", 1995)
    assert split_title("Babylon 5") == ("Babylon 5", None)
    assert split_title("Fawlty Towers (1975\u20131979)") == ("Fawlty Towers", 1975)


def test_100k_layout_with_dirty_rows_and_time_shift(tmp_path: Path) -> None:
    _ml100k(tmp_path / "ml")
    items, events, report = import_movielens(tmp_path / "ml")
    assert dict(report.dropped) == {
        "malformed_movie": 1,
        "unknown_movie": 1,
        "malformed": 1,
        "duplicate": 1,
        "bad_rating": 1,
    }
    assert [e.event_id for e in events] == ["196-1", "196-2", "186-2"]
    assert [e.value for e in events] == [3.0, 5.0, 4.0]
    assert {e.action for e in events} == {"rate"}
    # 1997 timestamps shifted by whole weeks into the contract's range, gaps kept
    shift = events[0].ts - 881250949
    assert shift % WEEK_S == 0 and events[0].ts >= MIN_TS and events[0].ts - shift < MIN_TS
    assert events[1].ts - events[0].ts == 1.0
    assert any("shifted" in n for n in report.notes)
    by_id = {i.item_id: i for i in items}
    assert by_id["1"].tags == ("Animation", "Children's", "Comedy")
    assert by_id["2"].title == "The Shawshank Redemption"
    assert by_id["2"].attributes == {"year": 1994.0}
    assert "1994" in by_id["2"].text and "Drama" in by_id["2"].text


def test_1m_layout(tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_text(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n",
        encoding="latin-1",
    )
    (folder / "ratings.dat").write_text(
        f"1::2::3::{T + 5}\n1::1::5::{T}\n2::1::bad::{T}\n", encoding="latin-1"
    )
    items, events, report = import_movielens(folder)
    assert [(e.event_id, e.ts) for e in events] == [("1-1", float(T)), ("1-2", float(T + 5))]
    assert dict(report.dropped) == {"malformed": 1}
    assert not any("shifted" in n for n in report.notes)
    assert {i.item_id for i in items} == {"1", "2"}


def test_latest_csv_layout_via_cli(tmp_path: Path) -> None:
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n"
        '1,"American President, The (1995)",Comedy|Drama|Romance\n'
        "2,Unknown Thing,(no genres listed)\n"
        "3,Never Rated (2001),Drama\n"
    )
    (folder / "ratings.csv").write_text(
        f"userId,movieId,rating,timestamp\n1,1,4.5,{T}\n1,2,0.5,{T + 1}\n7,3,,{T}\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["data", "import", "movielens", str(folder), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "malformed: 1" in result.output
    folder_read = read_folder(out)
    assert [e.value for e in folder_read.events] == [4.5, 0.5]
    titles = {i.item_id: i for i in folder_read.items}
    assert titles["1"].title == "The American President"
    assert titles["2"].tags == () and "3" not in titles  # unrated movies are not in the catalog


def test_unknown_layout_lists_the_expected_files(tmp_path: Path) -> None:
    with pytest.raises(DataImportError, match=r"u\.data \+ u\.item"):
        import_movielens(tmp_path)


def test_100k_keeps_its_dates_when_the_user_says_so(tmp_path: Path) -> None:
    """DRIFTREC_TS_MIN=1995-01-01: no shift, 1997 stays 1997, and the folder reads back with the
    same setting (train, eval, produce) but not with the default."""
    from encoders.data.folder import DataFolderError, read_folder, write_folder
    from streams.settings import Settings

    _ml100k(tmp_path / "ml")
    times = Settings(ts_min="1995-01-01").times  # type: ignore[arg-type]
    items, events, report = import_movielens(tmp_path / "ml", times)
    assert [e.ts for e in events][:2] == [881250949.0, 881250950.0]
    assert not any("shifted" in n for n in report.notes)
    write_folder(tmp_path / "out", items, events)
    assert [e.ts for e in read_folder(tmp_path / "out", times).events] == [e.ts for e in events]
    with pytest.raises(DataFolderError, match="bad_timestamp"):
        read_folder(tmp_path / "out")
    later = Settings(ts_min="1997-12-05").times  # type: ignore[arg-type]
    _, shifted, report = import_movielens(tmp_path / "ml", later)
    assert shifted[0].ts >= later.min_ts and (shifted[0].ts - 881250949.0) % WEEK_S == 0
    assert any("events start at 1997-12-05" in n for n in report.notes)
