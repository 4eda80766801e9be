"""Engine, sessions and the declarative base shared by every table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
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


# How long a SQLite statement waits for another connection's write lock when no timeout is
# configured (SQLite's own default is not to wait at all).
SQLITE_BUSY_SECONDS = 30.0


def make_engine(
    url: str,
    *,
    statement_timeout: float | None = None,
    idle_in_transaction_timeout: float | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine with Comptoir's connection settings.

    `statement_timeout` (seconds): on PostgreSQL no statement runs longer, waiting on a lock
    included; on SQLite it is how long a statement waits for the write lock (busy_timeout,
    SQLITE_BUSY_SECONDS when None). `idle_in_transaction_timeout` (PostgreSQL): the server ends
    a session that keeps a transaction open and does nothing for that long (a frozen or
    stalled process), which rolls it back and frees its locks; 0 or None leaves it off.
    Either error reaches the caller as an OperationalError: `transient()` says to retry.
    """
    if url.startswith("sqlite"):
        busy = SQLITE_BUSY_SECONDS if statement_timeout is None else statement_timeout
        connect_args = {
            "check_same_thread": False,
            "timeout": busy,
            **kwargs.pop("connect_args", {}),
        }
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        inbox = inbox_file(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            if inbox is not None:
                cur.execute(f"ATTACH DATABASE ? AS {INBOX_SCHEMA}", (str(inbox),))
                cur.execute(f"PRAGMA {INBOX_SCHEMA}.journal_mode=WAL")
                cur.execute(f"PRAGMA {INBOX_SCHEMA}.synchronous=NORMAL")
            cur.close()

        return engine
    options = [
        f"-c {name}={int(seconds * 1000)}"
        for name, seconds in (
            ("statement_timeout", statement_timeout),
            ("idle_in_transaction_session_timeout", idle_in_transaction_timeout),
        )
        if seconds
    ]
    if options and url.startswith("postgresql"):
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args["options"] = " ".join([connect_args.get("options", ""), *options]).strip()
        kwargs["connect_args"] = connect_args
    # pool_pre_ping: a PostgreSQL restart costs one reconnect, not a failed request.
    return create_engine(url, pool_pre_ping=True, **kwargs)


def transient(exc: BaseException) -> bool:
    """The database could not do it now but may in a moment: a lock held too long ("database
    is locked", a statement or idle-transaction timeout), a deadlock, a dropped connection.
    Looked for along the chain of causes, so an error a listener wrapped still counts. Trying
    again later is right; giving up on the work is not. A wrong query is not transient."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and (
            current.connection_invalidated
            or (current.orig is not None and _transient_driver_error(current.orig))
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


# PostgreSQL error classes that clear up by themselves: connection exceptions, transaction
# rollbacks (deadlock, serialization), operator intervention (statement timeout, shutdown),
# lock not available, and the idle-in-transaction timeout.
_PG_TRANSIENT_CLASSES = ("08", "40", "57")
_PG_TRANSIENT_STATES = {"55P03", "25P03"}


def _transient_driver_error(orig: BaseException) -> bool:
    if isinstance(orig, sqlite3.OperationalError):
        # "database is locked", "database table is locked"; not "no such table"
        message = str(orig).lower()
        return "locked" in message or "busy" in message
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        return state in _PG_TRANSIENT_STATES or state[:2] in _PG_TRANSIENT_CLASSES
    # no SQLSTATE: the connection broke before the server could answer
    return isinstance(orig, Exception) and type(orig).__name__ == "OperationalError"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


# A check every `transaction()` of this context runs last, before it commits (see fenced).
Fence = Callable[[Session], None]
_fence: ContextVar[Fence | None] = ContextVar("comptoir_fence", default=None)


@contextmanager
def fenced(check: Fence) -> Iterator[None]:
    """Within this block (this thread or task), every `transaction()` calls `check(session)`
    after its work and before its commit; `check` raises to roll the whole transaction back.

    The inbox worker fences a claimed message's work this way (routing.inbox_store.
    check_claim): the transaction that records an answer and queues its posts commits only if
    that claim still owns the message, so a worker that froze and lost it posts nothing."""
    token = _fence.set(check)
    try:
        yield
    finally:
        _fence.reset(token)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error (or a failed fence)."""
    with factory() as session, session.begin():
        yield session
        check = _fence.get()
        if check is not None:
            check(session)


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
