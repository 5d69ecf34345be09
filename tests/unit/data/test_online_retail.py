"""Online Retail importer on a hand-written CSV with every kind of dirty row, and the sample."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from encoders.data.folder import read_folder
from encoders.data.online_retail import import_online_retail, parse_timestamp
from encoders.data.summary import DataImportError
from streams.cli import cli

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROWS = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6.0,2010-12-01 08:26:00,2.55,17850.0,UK",
    "536365,71053,WHITE METAL LANTERN,6.0,2010-12-01 08:26:00,3.39,17850.0,UK",
    "536365,POST,POSTAGE,1.0,2010-12-01 08:26:00,18.0,17850.0,UK",  # non_product_code
    "536366,85123A,CREAM HANGING HEART T-LIGHT HOLDER,2.0,2010-12-01 09:00:00,2.65,13047.0,France",
    "536367,85123A,WHITE  HANGING HEART T-LIGHT HOLDER ,1.0,2010-12-02 10:00:00,2.45,13047.0,FR",
    "C536368,71053,WHITE METAL LANTERN,-1.0,2010-12-02 11:00:00,3.39,17850.0,UK",
    "536369,71053,WHITE METAL LANTERN,3.0,2010-12-02 12:00:00,3.39,,UK",  # no customer
    "536370,22632,,-5.0,2010-12-03 12:00:00,0.0,13047.0,France",  # non_positive_quantity
    "536371,22633,HAND WARMER UNION JACK,2.0,not a date,2.1,13047.0,France",  # malformed
    "536372,22634,CHILDS BREAKFAST SET,1.0,2010-12-04 12:00:00,0.0,13047.0,France",  # free
    "536373,22635,,4.0,2010-12-04 13:00:00,1.0,13047.0,France",  # missing_description
    "536374,21730,GLASS STAR FROSTED T-LIGHT HOLDER,6.0,12/5/2010 8:26,4.25,17850.0,UK",
]


def _write(tmp_path: Path, rows: list[str], gz: bool) -> Path:
    text = HEADER + "\n".join(rows) + "\n"
    if gz:
        path = tmp_path / "retail.csv.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path = tmp_path / "retail.csv"
        path.write_text(text)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_import_cleans_and_counts_every_drop(tmp_path: Path, gz: bool) -> None:
    items, events, report = import_online_retail(_write(tmp_path, ROWS, gz))
    assert report.rows_read == len(ROWS)
    assert dict(report.dropped) == {
        "non_product_code": 1,
        "cancellation": 1,
        "missing_customer": 1,
        "non_positive_quantity": 1,
        "malformed": 1,
        "non_positive_price": 1,
        "missing_description": 1,
    }
    assert [e.event_id for e in events] == [
        "536365-1",
        "536365-2",
        "536366-1",
        "536367-1",
        "536374-1",
    ]
    assert [e.user_id for e in events] == ["17850", "17850", "13047", "13047", "17850"]
    assert {e.action for e in events} == {"purchase"}
    assert [e.value for e in events] == [6.0, 6.0, 2.0, 1.0, 6.0]
    assert events[0].ts == 1291191960.0  # 2010-12-01 08:26 UTC
    assert events[0].ts == events[1].ts  # one basket, one timestamp, file order kept
    assert events[-1].ts == parse_timestamp("2010-12-05 08:26:00")  # US date format
    assert events[2].context == {"country": "France"}
    by_id = {i.item_id: i for i in items}
    assert sorted(by_id) == ["21730", "71053", "85123A"]
    # two spellings of the white holder (one with extra spaces) beat the single cream one
    assert by_id["85123A"].title == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert by_id["85123A"].attributes == {"price": 2.55}
    assert (report.events, report.items, report.users) == (5, 3, 2)


def test_missing_columns_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("InvoiceNo,StockCode\n1,2\n")
    with pytest.raises(DataImportError, match="header lacks columns"):
        import_online_retail(path)


def test_cli_import_writes_a_readable_folder(tmp_path: Path) -> None:
    src = _write(tmp_path, ROWS, gz=True)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["data", "import", "online-retail", str(src), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "cancellation: 1" in result.output
    folder = read_folder(out)
    assert len(folder.events) == 5 and len(folder.items) == 3
