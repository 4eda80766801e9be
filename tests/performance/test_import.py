"""Metrics import: bad rows named by line, good rows in, a re-import replaces, SQL sources."""

from __future__ import annotations

import csv
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from routing.db import transaction
from routing.models import MetricsDaily
from routing.performance.metrics_import import (
    COLUMNS,
    MetricsFileError,
    import_metrics_csv,
    import_metrics_sql,
)
from tests.performance.helpers import NOW, add_seller, good_day


def _line(seller: str, day: str, **over: object) -> list[object]:
    row = {"seller_id": seller, "date": day, **good_day(), **over}
    return [row[c] for c in COLUMNS]


def _write(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows(rows)
    return path


@pytest.fixture
def two_sellers(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(session_factory) as s:
        add_seller(s, "S1", 1)
        add_seller(s, "S2", 2)
    return session_factory


def test_bad_rows_are_reported_by_line_and_good_rows_go_in(
    two_sellers: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "m.csv",
        [
            _line("S1", "2026-11-20"),  # line 2: good
            _line("S9", "2026-11-20"),  # 3: unknown seller
            _line("S1", "2026-11-21", orders=-1, accepted_orders=0, seller_cancellations=0,
                  shipments=0, late_shipments=0, shipments_with_tracking=0, incidents=0,
                  ratings_count=0, acceptance_delay_hours="", rating_mean=""),  # 4: negative
            _line("S1", "2026-11-22", accepted_orders=11),  # 5: accepted > orders
            _line("S1", "2026-11-23", late_shipments=11),  # 6: late > shipments
            _line("S2", "2026-11-20", rating_mean=7),  # 7: rating outside 1-5
            _line("S2", "2026-11-21", shipments_with_tracking=12),  # 8: a rate over 100 %
            _line("S2", "2026-13-01"),  # 9: not a date
            _line("S2", "2026-11-22", orders="ten"),  # 10: not a number
            ["S2", "2026-11-23", "1"],  # 11: short line
            _line("S1", "2026-11-20"),  # 12: same seller and day twice
            _line("S2", "2026-11-24"),  # 13: good
        ],
    )  # fmt: skip
    with transaction(two_sellers) as s:
        report = import_metrics_csv(s, path=path, now=NOW)
    errors = {e["line"]: str(e["error"]) for e in report.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "unknown seller 'S9'" in errors[3]
    assert "negative" in errors[4]
    assert "accepted_orders (11) is more than orders (10)" in errors[5]
    assert "late_shipments" in errors[6]
    assert "rating_mean 7 is outside 1-5" in errors[7]
    assert "over 100 %" in errors[8]
    assert "not a date" in errors[9]
    assert "orders 'ten'" in errors[10]
    assert "fields" in errors[11]
    assert "line 2" in errors[12]
    assert report.imported == 2
    with two_sellers() as s:
        stored = s.execute(select(MetricsDaily.seller_id, MetricsDaily.day)).all()
    assert sorted((sid, d.isoformat()) for sid, d in stored) == [
        ("S1", "2026-11-20"),
        ("S2", "2026-11-24"),
    ]


def test_missing_column_is_a_file_error(two_sellers: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("seller_id,date,orders\nS1,2026-11-20,3\n")
    with transaction(two_sellers) as s, pytest.raises(MetricsFileError, match="accepted_orders"):
        import_metrics_csv(s, path=path, now=NOW)


def test_reimporting_a_day_replaces_it(two_sellers: sessionmaker[Session], tmp_path: Path) -> None:
    first = _write(tmp_path / "a.csv", [_line("S1", "2026-11-20"), _line("S1", "2026-11-21")])
    fixed = _write(tmp_path / "b.csv", [_line("S1", "2026-11-21", orders=12, accepted_orders=12)])
    for path in (first, first, fixed):
        with transaction(two_sellers) as s:
            assert import_metrics_csv(s, path=path, now=NOW).errors == []
    with two_sellers() as s:
        assert s.scalar(select(func.count()).select_from(MetricsDaily)) == 2
        day21 = s.scalars(
            select(MetricsDaily).where(MetricsDaily.day == NOW.date().replace(day=21))
        )
        assert [m.orders for m in day21] == [12]


_QUERY = f"SELECT {', '.join(c if c != 'date' else 'day AS date' for c in COLUMNS)} FROM wh"


def _warehouse(url: str) -> None:
    engine = create_engine(url)
    cols = ", ".join(
        f"{c} {'VARCHAR(20)' if c == 'seller_id' else 'DATE' if c == 'date' else 'FLOAT'}"
        for c in COLUMNS
    ).replace("date DATE", "day DATE")
    good = good_day()
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE wh ({cols})"))
        insert = text(
            f"INSERT INTO wh VALUES ({', '.join(':' + (c if c != 'date' else 'day') for c in COLUMNS)})"
        )
        conn.execute(insert, [{"seller_id": "S1", "day": "2026-11-20", **good}])
        conn.execute(insert, [{"seller_id": "S2", "day": "2026-11-20", **good, "rating_mean": 9.0}])
    engine.dispose()


def test_sql_import_from_a_sqlite_warehouse(
    two_sellers: sessionmaker[Session], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    _warehouse(url)
    with transaction(two_sellers) as s:
        report = import_metrics_sql(s, url=url, query=_QUERY, now=NOW)
    assert report.imported == 1
    assert report.errors == [{"line": 2, "error": "rating_mean 9 is outside 1-5"}]


def test_sql_import_from_the_same_kind_of_database(
    two_sellers: sessionmaker[Session], db_url: str
) -> None:
    """On the PostgreSQL run the warehouse is PostgreSQL (a table in the test database)."""
    _warehouse(db_url)
    with transaction(two_sellers) as s:
        report = import_metrics_sql(s, url=db_url, query=_QUERY, now=NOW)
    assert report.imported == 1 and len(report.errors) == 1


def test_sql_import_names_missing_columns(
    two_sellers: sessionmaker[Session], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    _warehouse(url)
    with transaction(two_sellers) as s, pytest.raises(MetricsFileError, match="orders"):
        import_metrics_sql(s, url=url, query="SELECT seller_id, day AS date FROM wh", now=NOW)


def _many(path: Path, rows: int, *, sellers: tuple[str, ...] = ("S1", "S2")) -> Path:
    """`rows` good rows: each seller on consecutive days back from 2026-11-20."""
    good = good_day()
    end = date(2026, 11, 20)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for k in range(rows):
            day = end - timedelta(days=k // len(sellers))
            row = {"seller_id": sellers[k % len(sellers)], "date": day.isoformat(), **good}
            w.writerow([row[c] for c in COLUMNS])
    return path


@pytest.mark.slow
def test_memory_stays_about_one_batch_whatever_the_file(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """40,000 rows (2 MB) in batches of 500: the peak is a batch's rows plus 12 bytes a row
    for the repeat check. Reading the file whole took 64 MB here (file, text, every row)."""
    sellers = tuple(f"S{i:03d}" for i in range(100))
    with transaction(session_factory) as s:
        for n, sid in enumerate(sellers):
            add_seller(s, sid, n)
    path = _many(tmp_path / "m.csv", 40_000, sellers=sellers)
    tracemalloc.start()
    try:
        with transaction(session_factory) as s:
            report = import_metrics_csv(s, path=path, now=NOW, batch=500)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.imported, report.rejected, report.sellers) == (40_000, 0, 100)
    assert peak < 6_000_000, (
        f"peak {peak / 1e6:.1f} MB for a {path.stat().st_size / 1e6:.1f} MB file"
    )


def test_a_latin1_byte_costs_its_line_only(
    two_sellers: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _write(tmp_path / "m.csv", [_line("S1", "2026-11-20"), _line("S2", "2026-11-20")])
    with path.open("ab") as fh:  # line 4, after the good lines 2 and 3 ...
        fh.write(b"S1,2026-11-21,10,10,4.0,0,10,0,10,2,3.0,0,5,4.9\n")
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"S2", b"S\xe92", 1)  # ... and line 3 made Latin-1
    path.write_bytes(b"\n".join(lines))
    with transaction(two_sellers) as s:
        report = import_metrics_csv(s, path=path, now=NOW)
    assert report.errors == [
        {"line": 3, "error": "not UTF-8 (byte 0xE9 at column 2); save the file as UTF-8"}
    ]
    assert (report.imported, report.rejected) == (2, 1)
    with two_sellers() as s:
        stored = s.execute(select(MetricsDaily.seller_id, MetricsDaily.day)).all()
    assert sorted((sid, d.isoformat()) for sid, d in stored) == [
        ("S1", "2026-11-20"),
        ("S1", "2026-11-21"),
    ]


def test_a_semicolon_file_gets_the_hint_and_imports_nothing(
    two_sellers: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _write(tmp_path / "m.csv", [_line("S1", "2026-11-20")])
    path.write_text(path.read_text().replace(",", ";"))
    with transaction(two_sellers) as s, pytest.raises(MetricsFileError) as caught:
        import_metrics_csv(s, path=path, now=NOW)
    assert "looks semicolon-separated; export it comma-separated" in str(caught.value)
    with two_sellers() as s:
        assert s.scalar(select(func.count()).select_from(MetricsDaily)) == 0


def test_a_day_given_twice_is_found_across_batches(
    two_sellers: sessionmaker[Session], tmp_path: Path
) -> None:
    """Batches of 2: the repeat on line 7 is three batches after the first on line 2."""
    path = _write(
        tmp_path / "m.csv",
        [_line("S1", "2026-11-20"), _line("S2", "2026-11-20"), _line("S1", "2026-11-21"),
         _line("S2", "2026-11-21"), _line("S2", "2026-11-22"), _line("S1", "2026-11-20"),
         _line("S2", "2026-11-21", orders=12, accepted_orders=12)],
    )  # fmt: skip
    with transaction(two_sellers) as s:
        report = import_metrics_csv(s, path=path, now=NOW, batch=2)
    assert report.errors == [
        {"line": 7, "error": "seller 'S1' on 2026-11-20 already given on line 2"},
        {"line": 8, "error": "seller 'S2' on 2026-11-21 already given on line 5"},
    ]
    assert (report.imported, report.sellers) == (5, 2)
    assert (report.first_day, report.last_day) == (date(2026, 11, 20), date(2026, 11, 22))
    with two_sellers() as s:  # the first of each pair stays
        assert s.scalars(select(MetricsDaily.orders)).all() == [10] * 5


def test_errors_are_capped_and_all_counted(
    two_sellers: sessionmaker[Session], tmp_path: Path
) -> None:
    bad = [_line("S9", f"2026-11-{d:02d}") for d in range(1, 21)] * 60  # 1,200 unknown
    path = _write(tmp_path / "m.csv", [*bad, _line("S1", "2026-11-20")])
    with transaction(two_sellers) as s:
        report = import_metrics_csv(s, path=path, now=NOW)
    assert (report.imported, report.rejected) == (1, 1200)
    assert [e["line"] for e in report.errors] == list(range(2, 1002))  # the first 1,000
    body = report.to_json()
    assert body["rejected"] == 1200 and body["errors_not_listed"] == 200


def test_progress_is_told_after_each_batch(
    two_sellers: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _many(tmp_path / "m.csv", 10)
    seen: list[tuple[int, int, int]] = []
    with transaction(two_sellers) as s:
        import_metrics_csv(
            s, path=path, now=NOW, batch=4,
            progress=lambda r, read: seen.append((r.imported, r.rejected, read)),
        )  # fmt: skip
    size = path.stat().st_size
    assert [(i, r) for i, r, _ in seen] == [(4, 0), (8, 0), (10, 0)]
    assert [read for *_, read in seen][-1] == size
    assert all(0 < read <= size for *_, read in seen)
