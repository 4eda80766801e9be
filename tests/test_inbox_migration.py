"""Moving the inbox into its own SQLite file (migration 0005) keeps every stored delivery."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from sqlalchemy.engine import make_url

from routing import inbox_store, migrate
from routing.db import inbox_file, make_engine, make_sessionmaker, transaction, utcnow


def _states(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            return {r.event_id: r.status for r in inbox_store.rows(s)}
    finally:
        engine.dispose()


def _tables_in(path: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}


def test_upgrade_and_downgrade_keep_every_stored_delivery(db_url: str) -> None:
    migrate.upgrade(db_url, "0004")
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    now = utcnow()
    with transaction(factory) as s:
        for event_id in ("Ev1", "Ev2", "Ev3"):
            inbox_store.do_store(s, event_id=event_id, body={"n": event_id}, now=now)
    with transaction(factory) as s:  # one in a worker's hands, one answered
        assert inbox_store.claim_next(s, now=now, lease=timedelta(minutes=5))
    with transaction(factory) as s:
        claimed = inbox_store.claim_next(s, now=now, lease=timedelta(minutes=5))
        assert claimed is not None
        inbox_store.mark_done(s, event_id=claimed[0], attempt=claimed[2], now=now)
    engine.dispose()
    before = {"Ev1": "working", "Ev2": "done", "Ev3": "queued"}
    assert _states(db_url) == before

    migrate.upgrade(db_url)
    assert _states(db_url) == before
    inbox = inbox_file(db_url)
    if inbox is not None:  # SQLite: the table (and its rows) left the main file
        assert "slack_inbox" in _tables_in(str(inbox))
        assert "slack_inbox" not in _tables_in(str(make_url(db_url).database))

    migrate.downgrade(db_url, "0004")
    assert _states(db_url) == before
    if inbox is not None:
        assert "slack_inbox" not in _tables_in(str(inbox))
