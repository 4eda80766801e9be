"""Engine, sessions and the declarative base shared by every table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, naive UTC in the database (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Comptoir stores timezone-aware UTC only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


# SQLite: the schema name of the file that holds the Slack inbox (see inbox_file).
INBOX_SCHEMA = "inbox"


def inbox_file(url: str) -> Path | None:
    """SQLite on a file: where the Slack inbox (`slack_inbox`) lives, `<database>-inbox`, next to
    the database like SQLite's own `-wal` and `-shm` files. None elsewhere (PostgreSQL, memory).

    SQLite has one write lock per file. The HTTP process acks a delivery once it is stored;
    with the inbox in the main file, that insert queued behind every write transaction of the
    worker (a lower-priority process, so its transactions last as long as the machine is
    busy). In its own file it waits only for other inbox statements, which are each one
    statement long (routing.inbox_store). Every connection ATTACHes it, and SQLite resolves an
    unqualified name in main first, then in attached files: the table keeps its name.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or parsed.query.get("uri"):
        return None  # a URI filename (memory, read-only...): keep everything in one place
    return Path(f"{database}-inbox")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        inbox = inbox_file(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            if inbox is not None:
                cur.execute(f"ATTACH DATABASE ? AS {INBOX_SCHEMA}", (str(inbox),))
                cur.execute(f"PRAGMA {INBOX_SCHEMA}.journal_mode=WAL")
                cur.execute(f"PRAGMA {INBOX_SCHEMA}.synchronous=NORMAL")
            cur.close()

        return engine
    # pool_pre_ping: a PostgreSQL restart costs one reconnect, not a failed request.
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def add_if_new(session: Session, row: Any) -> bool:
    """Insert `row` in a savepoint; False when a unique key already holds it (a lost race or a
    repeat), and the session stays usable."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True
