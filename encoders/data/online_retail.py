"""Import the UCI Machine Learning Repository's "Online Retail" CSV (id 352, CC BY 4.0; credit in
encoders/samples/online_retail/CREDIT.md) into a data folder.

Cleaning, each rule counted in the report under its reason:

* ``missing_customer``: no CustomerID (a guest checkout cannot be followed over time);
* ``cancellation``: InvoiceNo starting with 'C';
* ``non_positive_quantity`` / ``non_positive_price``: returns, adjustments, free samples;
* ``non_product_code``: StockCode not 5 digits + optional letter (POST, DOT, M, BANK CHARGES ...);
* ``malformed``: a number or date that does not parse, or a missing field;
* ``missing_description``: a product code whose kept rows never name it (no item text).

Every kept line becomes one ``purchase`` event (value = quantity). All lines of an invoice share
its timestamp, so an invoice is one basket; file order inside it is kept (stable sort). The
event id is ``<invoice>-<n>`` with n the row's position inside its invoice in the raw file, so ids
do not move when cleaning rules change. Timestamps are read as UTC. A code with several
descriptions takes its most frequent one (ties: the first seen).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from tqdm import tqdm

from encoders.data.summary import DataImportError, ImportReport
from streams.messages.records import (
    BehaviourEvent,
    ItemRecord,
    RecordError,
    parse_event,
    parse_item,
)

COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
_PRODUCT_CODE = re.compile(r"^\d{5}[A-Za-z]?$")
_SPACES = re.compile(r"\s+")
# The CRAN export writes ISO dates; the UCI spreadsheet exported to CSV writes US dates.
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")


@dataclass(frozen=True, slots=True)
class _Line:
    invoice: str
    position: int
    code: str
    description: str
    quantity: float
    ts: float
    price: float
    customer: str
    country: str


def _open_text(path: Path) -> IO[str]:
    if not path.is_file():
        raise DataImportError(f"{path} not found (expected the Online Retail CSV, .csv or .csv.gz)")
    with path.open("rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace", newline="")


def parse_timestamp(text: str) -> float:
    """Epoch seconds of an InvoiceDate (read as UTC); ValueError when no known format fits."""
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError(f"unknown date format {text!r}")


def _customer_id(raw: str) -> str:
    # The CRAN export stores CustomerID as a float ("17850.0").
    raw = raw.strip()
    return raw[:-2] if raw.endswith(".0") else raw


def _clean_lines(path: Path, report: ImportReport) -> Iterator[_Line]:
    positions: Counter[str] = Counter()
    with _open_text(path) as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataImportError(
                f"{path}: header lacks columns {missing}; found {reader.fieldnames}"
            )
        for row in tqdm(reader, desc="online-retail rows", unit=" rows", mininterval=2.0):
            report.rows_read += 1
            invoice = (row["InvoiceNo"] or "").strip()
            positions[invoice] += 1
            if not invoice:
                report.drop("malformed")
                continue
            customer = _customer_id(row["CustomerID"] or "")
            if not customer:
                report.drop("missing_customer")
                continue
            if invoice.upper().startswith("C"):
                report.drop("cancellation")
                continue
            try:
                quantity = float(row["Quantity"])
                price = float(row["UnitPrice"])
                ts = parse_timestamp(row["InvoiceDate"] or "")
            except (TypeError, ValueError):
                report.drop("malformed")
                continue
            if not quantity > 0:
                report.drop("non_positive_quantity")
                continue
            code = (row["StockCode"] or "").strip().upper()
            if not _PRODUCT_CODE.match(code):
                report.drop("non_product_code")
                continue
            if not price > 0:
                report.drop("non_positive_price")
                continue
            description = _SPACES.sub(" ", row["Description"] or "").strip()
            country = (row["Country"] or "").strip()
            yield _Line(
                invoice=invoice,
                position=positions[invoice],
                code=code,
                description=description,
                quantity=quantity,
                ts=ts,
                price=price,
                customer=customer,
                country=country,
            )


def _items(lines: list[_Line]) -> dict[str, ItemRecord]:
    descriptions: dict[str, Counter[str]] = defaultdict(Counter)
    prices: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        if line.description:
            descriptions[line.code][line.description] += 1  # Counter keeps first-seen order
        prices[line.code].append(line.price)
    items: dict[str, ItemRecord] = {}
    for code, counts in descriptions.items():
        title = counts.most_common(1)[0][0]  # most_common is stable: ties keep first-seen
        price = round(statistics.median(prices[code]), 2)
        items[code] = parse_item({"item_id": code, "title": title, "attributes": {"price": price}})
    return items


def import_online_retail(path: Path) -> tuple[list[ItemRecord], list[BehaviourEvent], ImportReport]:
    """Read the CSV (plain or gzip) at ``path``: items, time-ordered events, the report."""
    report = ImportReport(source=f"UCI Online Retail: {path.name}")
    lines = list(_clean_lines(path, report))
    items = _items(lines)
    events: list[BehaviourEvent] = []
    for line in lines:
        if line.code not in items:
            report.drop("missing_description")
            continue
        raw = {
            "event_id": f"{line.invoice}-{line.position}",
            "user_id": line.customer,
            "ts": line.ts,
            "action": "purchase",
            "item_id": line.code,
            "value": line.quantity,
            "context": {"country": line.country} if line.country else {},
        }
        try:
            events.append(parse_event(raw))
        except RecordError as exc:
            report.drop(f"invalid_{exc.reason}")
    events.sort(key=lambda e: e.ts)  # stable: a basket keeps its file order
    used = sorted({e.item_id for e in events if e.item_id is not None})
    kept_items = [items[code] for code in used]
    report.events, report.items = len(events), len(kept_items)
    report.users = len({e.user_id for e in events})
    report.notes.append("timestamps read as UTC; one invoice = one basket sharing one timestamp")
    return kept_items, events, report
