from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing.db import transaction
from routing.models import Seller
from routing.sellers import (
    DirectoryFileError,
    do_import_directory,
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


def test_a_channel_freed_earlier_in_the_file_can_be_taken_later_in_it(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    # S1 moves to a new channel, then S3 (new) takes S1's old one and S2 takes S3's
    # would-be one: each row sees the rows above it, and the unique channel_id holds.
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
        report = do_import_directory(session, read_directory_csv(second))
    assert (report.created, report.updated) == (1, 2)
    assert report.errors == [{"line": 5, "error": "channel_id 'C0AAAAAA3' belongs to seller 'S1'"}]
    with session_factory() as session:
        owners = {s.channel_id: s.seller_id for s in session.scalars(select(Seller))}
    assert owners == {"C0AAAAAA9": "S2", "C0AAAAAA3": "S1", "C0AAAAAA1": "S3"}
