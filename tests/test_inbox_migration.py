"""Moving the inbox into its own SQLite file (migration 0005), and the later changes to its
table (0008), keep every stored delivery.

Rows are written and read in SQL: the models follow the newest revision, not 0004's table."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import make_url

from routing import inbox_store, migrate
from routing.db import inbox_file, make_engine, make_sessionmaker, transaction, utcnow


def _states(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT event_id, status FROM slack_inbox")).all()
            return {event_id: status for event_id, status in rows}
    finally:
        engine.dispose()


def _tables_in(path: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}


def test_upgrade_and_downgrade_keep_every_stored_delivery(db_url: str) -> None:
    migrate.upgrade(db_url, "0004")
    engine = make_engine(db_url)
    at = utcnow()
    now = at.replace(tzinfo=None)
    with engine.begin() as conn:  # one in a worker's hands, one answered, one waiting
        for event_id, status in (("Ev1", "working"), ("Ev2", "done"), ("Ev3", "queued")):
            conn.execute(
                text(
                    "INSERT INTO slack_inbox (event_id, body, status, attempts, received_at,"
                    " claimed_at) VALUES (:id, :body, :status, 1, :now, :now)"
                ),
                {"id": event_id, "body": f'{{"n": "{event_id}"}}', "status": status, "now": now},
            )
    engine.dispose()
    before = {"Ev1": "working", "Ev2": "done", "Ev3": "queued"}
    assert _states(db_url) == before

    migrate.upgrade(db_url)
    assert _states(db_url) == before
    engine = make_engine(db_url)
    with transaction(make_sessionmaker(engine)) as s:
        # Ev1 was claimed before 0008 (no lease_until): the looking worker's lease decides
        early = inbox_store.claim_next(s, now=at + timedelta(minutes=4), lease=timedelta(minutes=5))
        assert early is not None and early[0] == "Ev3"  # Ev1 is still held; the queued one
        late = inbox_store.claim_next(s, now=at + timedelta(minutes=6), lease=timedelta(minutes=5))
        assert late is not None and late[0] == "Ev1"
    with engine.connect() as conn:  # a claim now records until when it holds the row
        held = conn.execute(text("SELECT COUNT(*) FROM slack_inbox WHERE lease_until IS NOT NULL"))
        assert held.scalar_one() == 2
    engine.dispose()
    before["Ev3"] = "working"
    assert _states(db_url) == before
    inbox = inbox_file(db_url)
    if inbox is not None:  # SQLite: the table (and its rows) left the main file
        assert "slack_inbox" in _tables_in(str(inbox))
        assert "slack_inbox" not in _tables_in(str(make_url(db_url).database))

    migrate.downgrade(db_url, "0004")
    assert _states(db_url) == before
    if inbox is not None:
        assert "slack_inbox" not in _tables_in(str(inbox))
