"""Import MovieLens ratings into a data folder.

Layouts: 100K (``u.data``, ``u.item``), 1M (``ratings.dat``, ``movies.dat``) and latest / 25M
(``ratings.csv``, ``movies.csv``), detected from the file names.

Each rating becomes a ``rate`` event with the rating as value; event ids are ``<user>-<movie>``
(unique per user and movie in every release; a repeated pair is dropped as ``duplicate``). Item
text comes from the title (a trailing ", The" is moved to the front), the release year and the
genres (as tags). MovieLens 100K predates 2000, the earliest time the event contract accepts, so
when any rating is older every timestamp is shifted by the same whole number of weeks (order,
gaps, weekday and time of day kept) and the report says so.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from encoders.data.summary import DataImportError, ImportReport
from streams.messages.records import (
    DEFAULT_TIMES,
    BehaviourEvent,
    ItemRecord,
    RecordError,
    TimeRule,
    parse_event,
    parse_item,
)

#: Genre order of the 19 flag columns in u.item (u.genre in the 100K release).
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
WEEK_S = 7 * 86_400
_YEAR = re.compile(r"^(.*?)\s*\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$")
_ARTICLE = re.compile(r"^(.*), (The|A|An)$")

Rating = tuple[str, str, float, float]  # user, movie, rating, ts


def split_title(raw: str) -> tuple[str, int | None]:
    """``"Shawshank Redemption, The (1994)"`` -> ``("The Shawshank Redemption", 1994)``."""
    raw = raw.strip()
    year: int | None = None
    match = _YEAR.match(raw)
    if match:
        raw, year = match.group(1).strip(), int(match.group(2))
    article = _ARTICLE.match(raw)
    if article:
        raw = f"{article.group(2)} {article.group(1)}"
    return raw, year


def _item(movie: str, raw_title: str, genres: list[str]) -> ItemRecord:
    title, year = split_title(raw_title)
    genres = [g for g in genres if g and g not in ("unknown", "(no genres listed)")]
    obj: dict[str, object] = {"item_id": movie, "title": title or raw_title.strip(), "tags": genres}
    if year is not None:
        obj["description"] = f"Released {year}."
        obj["attributes"] = {"year": float(year)}
    return parse_item(obj)


def _read_lines(path: Path, encoding: str) -> Iterator[str]:
    with path.open(encoding=encoding, errors="replace") as fh:
        yield from (line.rstrip("\n\r") for line in fh)


def _movies(folder: Path, report: ImportReport) -> tuple[dict[str, ItemRecord], Path, str]:
    """The catalog, the ratings file and its layout name ("100k", "1m" or "csv")."""
    if (folder / "u.item").is_file() and (folder / "u.data").is_file():
        movies: dict[str, ItemRecord] = {}
        for line in _read_lines(folder / "u.item", "latin-1"):
            parts = line.split("|")
            if len(parts) < 5 + len(GENRES_100K) or not parts[0].strip() or not parts[1].strip():
                if line.strip():
                    report.drop("malformed_movie")
                continue
            flags = parts[5 : 5 + len(GENRES_100K)]
            genres = [g for g, f in zip(GENRES_100K, flags, strict=True) if f.strip() == "1"]
            movies[parts[0].strip()] = _item(parts[0].strip(), parts[1], genres)
        return movies, folder / "u.data", "100k"
    if (folder / "movies.dat").is_file() and (folder / "ratings.dat").is_file():
        movies = {}
        for line in _read_lines(folder / "movies.dat", "latin-1"):
            parts = line.split("::")
            if len(parts) != 3 or not parts[0].strip() or not parts[1].strip():
                if line.strip():
                    report.drop("malformed_movie")
                continue
            movies[parts[0].strip()] = _item(parts[0].strip(), parts[1], parts[2].split("|"))
        return movies, folder / "ratings.dat", "1m"
    if (folder / "movies.csv").is_file() and (folder / "ratings.csv").is_file():
        movies = {}
        with (folder / "movies.csv").open(encoding="utf-8", errors="replace", newline="") as fh:
            for row in csv.DictReader(fh):
                movie, title = (row.get("movieId") or "").strip(), row.get("title") or ""
                if not movie or not title.strip():
                    report.drop("malformed_movie")
                    continue
                movies[movie] = _item(movie, title, (row.get("genres") or "").split("|"))
        return movies, folder / "ratings.csv", "csv"
    raise DataImportError(
        f"{folder}: no MovieLens layout found; expected u.data + u.item (100K), "
        "ratings.dat + movies.dat (1M) or ratings.csv + movies.csv (latest / 25M)"
    )


def _ratings(path: Path, layout: str) -> Iterator[Rating | None]:
    """Yield (user, movie, rating, ts) per row, None for a row that does not parse."""
    if layout == "csv":
        fh = path.open(encoding="utf-8", errors="replace", newline="")
        rows: Iterator[list[str]] = (
            [r.get("userId") or "", r.get("movieId") or "", r.get("rating") or "",
             r.get("timestamp") or ""]
            for r in csv.DictReader(fh)
        )  # fmt: skip
    else:
        fh = path.open(encoding="latin-1", errors="replace")
        sep = "\t" if layout == "100k" else "::"
        rows = (line.rstrip("\r\n").split(sep) for line in fh if line.strip())
    with fh:
        for parts in rows:
            try:
                user, movie, rating, ts = (p.strip() for p in parts)
                yield user, movie, float(rating), float(ts)
            except ValueError:
                yield None


def import_movielens(
    folder: Path, times: TimeRule = DEFAULT_TIMES
) -> tuple[list[ItemRecord], list[BehaviourEvent], ImportReport]:
    """Read a MovieLens folder (layout detected from its file names): items, events, report.

    Ratings before ``times.min_ts`` (DRIFTREC_TS_MIN, 2000-01-01 by default) move forward by
    whole weeks, so all of them are accepted; with an earlier DRIFTREC_TS_MIN they keep their
    dates. MovieLens timestamps are epoch seconds whatever DRIFTREC_TS_UNIT says."""
    if not folder.is_dir():
        raise DataImportError(f"{folder} is not a folder (give the unpacked MovieLens folder)")
    report = ImportReport(source=f"MovieLens: {folder.name}")
    movies, ratings_path, layout = _movies(folder, report)
    kept: list[Rating] = []
    seen: set[tuple[str, str]] = set()
    for row in tqdm(_ratings(ratings_path, layout), desc="movielens ratings", unit=" rows",
                    mininterval=2.0):  # fmt: skip
        report.rows_read += 1
        if row is None or not row[0] or not row[1] or not math.isfinite(row[3]):
            report.drop("malformed")
        elif row[1] not in movies:
            report.drop("unknown_movie")
        elif not 0 < row[2] <= 10:
            report.drop("bad_rating")
        elif (row[0], row[1]) in seen:
            report.drop("duplicate")
        else:
            seen.add((row[0], row[1]))
            kept.append(row)
    shift = 0.0
    low = times.min_ts
    if kept and min(r[3] for r in kept) < low:
        shift = math.ceil((low - min(r[3] for r in kept)) / WEEK_S) * WEEK_S
        report.notes.append(
            f"timestamps shifted by +{shift / WEEK_S:.0f} weeks: events start at {times.since} "
            "(DRIFTREC_TS_MIN)"
        )
    seconds = TimeRule("s", low)
    events: list[BehaviourEvent] = []
    for user, movie, rating, ts in kept:
        raw = {"event_id": f"{user}-{movie}", "user_id": user, "ts": ts + shift,
               "action": "rate", "item_id": movie, "value": rating}  # fmt: skip
        try:
            events.append(parse_event(raw, seconds))
        except RecordError as exc:
            report.drop(f"invalid_{exc.reason}")
    events.sort(key=lambda e: e.ts)  # stable: equal timestamps keep file order
    used = {e.item_id for e in events}
    items = [item for movie, item in movies.items() if movie in used]
    report.events, report.items = len(events), len(items)
    report.users = len({e.user_id for e in events})
    report.notes.append(f"layout: {layout} ({ratings_path.name})")
    return items, events, report
