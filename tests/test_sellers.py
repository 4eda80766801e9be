from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing.db import transaction
from routing.models import Seller
from routing.sellers import (
    BATCH,
    DirectoryFileError,
    do_import_directory,
    open_directory_csv,
    read_directory_csv,
    seller_for_channel,
)

HEADER = "seller_id,name,channel_id,account_manager_id,tier,language\n"


def _write(tmp_path: Path, body: str, name: str = "sellers.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + body, encoding="utf-8")
    return p


def test_import_reports_bad_rows_by_line_and_keeps_the_rest(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    path = _write(
        tmp_path,
        "S1,Atelier Roux,C0AAAAAA1,U0AM00001,gold,fr\n"
        "S2,No Channel,general,U0AM00001,gold,fr\n"
        "S3,Bad Tier,C0AAAAAA3,,platinum,en\n"
        "S4,Kettle & Co,C0AAAAAA4,,silver,EN\n"
        "S1,Duplicate,C0AAAAAA5,,gold,fr\n",
    )
    with transaction(session_factory) as session:
        report = do_import_directory(session, read_directory_csv(path))
    assert report.created == 2
    assert [e["line"] for e in report.errors] == [3, 4, 6]
    assert "not a Slack channel id" in str(report.errors[0]["error"])
    assert "platinum" in str(report.errors[1]["error"])
    assert "already given on line 2" in str(report.errors[2]["error"])
    with session_factory() as session:
        kettle = session.get(Seller, "S4")
        assert kettle is not None and kettle.language == "en" and kettle.account_manager_id is None


def test_reimport_updates_in_place(tmp_path: Path, session_factory: sessionmaker[Session]) -> None:
    first = _write(tmp_path, "S1,Atelier Roux,C0AAAAAA1,U0AM00001,gold,fr\n", "a.csv")
    second = _write(tmp_path, "S1,Atelier Roux SAS,C0AAAAAA1,U0AM00002,silver,fr\n", "b.csv")
    with transaction(session_factory) as session:
        do_import_directory(session, read_directory_csv(first))
    with transaction(session_factory) as session:
        report = do_import_directory(session, read_directory_csv(second))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    with session_factory() as session:
        seller = seller_for_channel(session, channel_id="C0AAAAAA1")
        assert seller is not None
        assert (seller.name, seller.account_manager_id, seller.tier) == (
            "Atelier Roux SAS",
            "U0AM00002",
            "silver",
        )
        assert len(session.scalars(select(Seller)).all()) == 1


def test_a_file_without_the_columns_is_refused_whole(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("id,name\n1,a\n", encoding="utf-8")
    with pytest.raises(DirectoryFileError, match="missing column"):
        read_directory_csv(p)
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DirectoryFileError, match="UTF-8"):
        read_directory_csv(p)


@pytest.mark.parametrize("batch", [1, BATCH])
def test_a_channel_freed_earlier_in_the_file_can_be_taken_later_in_it(
    tmp_path: Path, session_factory: sessionmaker[Session], batch: int
) -> None:
    # S1 moves to a new channel, then S3 (new) takes S1's old one and S2 takes S3's
    # would-be one: each row sees the rows above it, and the unique channel_id holds,
    # whether those rows were in the same batch or in earlier ones.
    first = _write(
        tmp_path, "S1,Atelier Roux,C0AAAAAA1,,gold,fr\nS2,Kettle & Co,C0AAAAAA2,,gold,en\n", "a.csv"
    )
    second = _write(
        tmp_path,
        "S2,Kettle & Co,C0AAAAAA9,,gold,en\n"
        "S1,Atelier Roux,C0AAAAAA3,,gold,fr\n"
        "S3,Maison Brune,C0AAAAAA1,,silver,fr\n"
        "S4,Late Taker,C0AAAAAA3,,silver,fr\n",
        "b.csv",
    )
    with transaction(session_factory) as session:
        do_import_directory(session, read_directory_csv(first))
    with transaction(session_factory) as session:
        report = do_import_directory(session, read_directory_csv(second), batch=batch)
    assert (report.created, report.updated) == (1, 2)
    assert report.errors == [{"line": 5, "error": "channel_id 'C0AAAAAA3' belongs to seller 'S1'"}]
    with session_factory() as session:
        owners = {s.channel_id: s.seller_id for s in session.scalars(select(Seller))}
    assert owners == {"C0AAAAAA9": "S2", "C0AAAAAA3": "S1", "C0AAAAAA1": "S3"}


def test_a_latin1_byte_costs_its_line_only(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    path = tmp_path / "sellers.csv"
    path.write_bytes(
        HEADER.encode()
        + b"S1,Atelier Roux,C0AAAAAA1,,gold,fr\n"
        + "S2,Café Noir,C0AAAAAA2,,gold,fr\n".encode("latin-1")  # line 3
        + b"S3,Maison Brune,C0AAAAAA3,,silver,fr\n"
    )
    with transaction(session_factory) as session, open_directory_csv(path) as source:
        report = do_import_directory(session, source)
    assert report.errors == [
        {"line": 3, "error": "not UTF-8 (byte 0xE9 at column 7); save the file as UTF-8"}
    ]
    assert (report.created, report.rejected) == (2, 1)
    with session_factory() as session:
        assert sorted(session.scalars(select(Seller.seller_id))) == ["S1", "S3"]


def test_a_semicolon_file_gets_the_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "S1,Atelier Roux,C0AAAAAA1,,gold,fr\n")
    path.write_text(path.read_text().replace(",", ";"))
    with pytest.raises(DirectoryFileError, match="looks semicolon-separated; export it comma"):
        open_directory_csv(path)


def test_a_seller_given_twice_is_found_across_batches(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    path = _write(
        tmp_path,
        "S1,Atelier Roux,C0AAAAAA1,,gold,fr\n"
        "S2,Kettle & Co,C0AAAAAA2,,gold,en\n"
        "S3,Maison Brune,C0AAAAAA3,,gold,fr\n"
        "S1,Atelier Roux again,C0AAAAAA4,,gold,fr\n",
    )
    with transaction(session_factory) as session, open_directory_csv(path) as source:
        report = do_import_directory(session, source, batch=2)
    assert report.errors == [{"line": 5, "error": "seller_id 'S1' already given on line 2"}]
    assert report.created == 3


def test_errors_are_capped_and_all_counted(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    path = _write(tmp_path, "".join(f"S{i},Name,general,,gold,fr\n" for i in range(1100)))
    with transaction(session_factory) as session, open_directory_csv(path) as source:
        report = do_import_directory(session, source)
    assert report.rejected == 1100 and len(report.errors) == 1000
    assert report.errors[-1]["line"] == 1001
    assert report.to_json()["errors_not_listed"] == 100


@pytest.mark.slow
def test_memory_stays_about_one_batch_whatever_the_file(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    """10,000 sellers in batches of 500: the peak is a batch plus 12 bytes a seller. The old
    whole-file import took 40 MB here (a session object for every seller)."""
    path = _write(
        tmp_path,
        "".join(
            f"S{k:07d},Seller number {k},C0{k:09d},U0AM{k % 50:05d},gold,fr\n"
            for k in range(10_000)
        ),
    )
    tracemalloc.start()
    try:
        with transaction(session_factory) as session, open_directory_csv(path) as source:
            report = do_import_directory(session, source, batch=500)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.created, report.rejected) == (10_000, 0)
    assert peak < 4_000_000, f"peak {peak / 1e6:.1f} MB"
