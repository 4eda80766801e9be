"""Inbox queries: Slack deliveries stored before the ack, until a worker has handled them.

    queued ──claim──▶ working ──▶ done
       ▲                 │
       └── retry ◀───────┤ (an error, attempts left; claimable again after `retry_delay`)
                         └──▶ failed (the last attempt's error kept in `last_error`)

A claim is a compare-and-set on (event_id, attempts): two workers never both own a row, on
SQLite (one writer at a time) as on PostgreSQL (FOR UPDATE SKIP LOCKED keeps workers off each
other's candidates without waiting). While a worker works on a row, its heartbeat renews
`claimed_at` (`renew`); a worker that dies or freezes mid-row stops renewing, and once
`claimed_at` is older than the lease another claim takes the row again. Outcomes are written
only by the claim that still owns the row, so a worker whose lease was taken cannot undo the
newer owner's result, and the work itself is fenced: `check_claim` in the transaction that
records an answer rolls it back when the claim has been taken over (bot.inbox).

On SQLite the inbox has a file, and so a write lock, of its own (routing.db.inbox_file), and
every write to it is one statement that commits by itself (`store_committed`, and
`writes()` for the worker): the lock is taken and released inside that statement, never held
while Python runs. A thread that waits for the GIL or for the CPU (the worker runs at a lower
priority) therefore never holds up an ack. Each write says whether it changed a row through
rowcount there (RETURNING rows would keep the statement, and the lock, open until fetched),
and through RETURNING on PostgreSQL, where psycopg does not report rowcount for every
statement through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from routing.models import InboxEvent

QUEUED = "queued"
WORKING = "working"
RETRY = "retry"
DONE = "done"
FAILED = "failed"

_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _changed(session: Session, stmt: Any) -> bool:
    """Run one INSERT or UPDATE of one inbox row; True when it wrote that row."""
    if _sqlite(session):
        result: CursorResult[Any] = session.execute(stmt)  # type: ignore[assignment]
        return result.rowcount == 1
    return session.execute(stmt.returning(InboxEvent.event_id)).first() is not None


@contextmanager
def writes(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for a worker's claim or outcome. SQLite: each statement commits by itself
    (claim_next and the outcomes are written to be correct that way). PostgreSQL: one
    transaction, so FOR UPDATE SKIP LOCKED keeps the claim's candidates until it commits."""
    with factory() as session:
        if _sqlite(session):
            session.connection(execution_options=_AUTOCOMMIT)
            yield session
        else:
            with session.begin():
                yield session


def _insert(session: Session, *, event_id: str, body: dict[str, Any], now: datetime) -> Any:
    """INSERT … ON CONFLICT DO NOTHING, so a duplicate never aborts the transaction."""
    values = {
        "event_id": event_id,
        "body": body,
        "status": QUEUED,
        "attempts": 0,
        "received_at": now,
    }
    if _sqlite(session):
        return sqlite.insert(InboxEvent).values(**values).on_conflict_do_nothing()
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(InboxEvent).values(**values).on_conflict_do_nothing()
    raise NotImplementedError(  # pragma: no cover - only SQLite and PostgreSQL are supported
        f"unsupported database {session.get_bind().dialect.name}"
    )


def do_store(session: Session, *, event_id: str, body: dict[str, Any], now: datetime) -> bool:
    """Keep a delivery for the worker, in the caller's transaction; False when the event id is
    already stored (a retry)."""
    return _changed(session, _insert(session, event_id=event_id, body=body, now=now))


def store_committed(
    factory: sessionmaker[Session], *, event_id: str, body: dict[str, Any], now: datetime
) -> bool:
    """Keep a delivery, committed by the time this returns, so the ack may follow; False when
    the event id is already stored (a retry). One statement in autocommit, on both databases
    (on PostgreSQL that also spares the BEGIN and COMMIT round trips)."""
    with factory() as session:
        session.connection(execution_options=_AUTOCOMMIT)
        return do_store(session, event_id=event_id, body=body, now=now)


def _claimable(*, now: datetime, lease: timedelta, retry_delay: timedelta) -> Any:
    """A working row is free once its owner's lease has run out (`lease_until`), whatever the
    lease of the worker looking; a row claimed before revision 0008 has none: `lease` then."""
    return or_(
        InboxEvent.status == QUEUED,
        and_(InboxEvent.status == RETRY, InboxEvent.claimed_at <= now - retry_delay),
        and_(InboxEvent.status == WORKING, InboxEvent.lease_until <= now),
        and_(
            InboxEvent.status == WORKING,
            InboxEvent.lease_until.is_(None),
            InboxEvent.claimed_at <= now - lease,
        ),
    )


def claim_next(
    session: Session,
    *,
    now: datetime,
    lease: timedelta,
    retry_delay: timedelta = timedelta(0),
) -> tuple[str, dict[str, Any], int] | None:
    """Take the oldest claimable delivery: (event_id, body, this attempt's number), or None.

    Claimable: queued; waiting for a retry for at least `retry_delay`; or left "working" for
    longer than `lease` (its worker died). Commit soon after: the claim is the row's lease.
    Correct in autocommit too (`writes()` on SQLite): the candidates are only read, the
    compare-and-set alone decides, and the body never changes once stored.
    """
    claimable = _claimable(now=now, lease=lease, retry_delay=retry_delay)
    candidates = session.execute(
        select(InboxEvent.event_id, InboxEvent.attempts)
        .where(claimable)
        .order_by(InboxEvent.received_at, InboxEvent.event_id)
        .limit(4)
        .with_for_update(skip_locked=True)
    ).all()
    for event_id, attempts in candidates:
        taken = _changed(
            session,
            update(InboxEvent)
            .where(InboxEvent.event_id == event_id, InboxEvent.attempts == attempts, claimable)
            .values(status=WORKING, attempts=attempts + 1, claimed_at=now, lease_until=now + lease)
            .execution_options(synchronize_session=False),
        )
        if taken:
            body = session.execute(
                select(InboxEvent.body).where(InboxEvent.event_id == event_id)
            ).scalar_one()
            return event_id, dict(body), attempts + 1
    return None


def _settle(session: Session, *, event_id: str, attempt: int, **values: Any) -> bool:
    """Write an outcome unless this claim lost the row (its lease ran out and was retaken)."""
    return _changed(
        session,
        update(InboxEvent)
        .where(
            InboxEvent.event_id == event_id,
            InboxEvent.attempts == attempt,
            InboxEvent.status == WORKING,
        )
        .values(**values)
        .execution_options(synchronize_session=False),
    )


class LeaseLost(Exception):
    """This claim no longer owns its delivery: its lease ran out and another claim took it."""

    def __init__(self, event_id: str, attempt: int) -> None:
        super().__init__(f"inbox {event_id}: attempt {attempt} lost its lease to another claim")
        self.event_id = event_id
        self.attempt = attempt


def renew(
    session: Session, *, event_id: str, attempt: int, now: datetime, lease: timedelta
) -> bool:
    """The heartbeat: the lease of a claim still working on its delivery starts again at
    `now`; False when another claim has taken the row meanwhile."""
    return _settle(
        session, event_id=event_id, attempt=attempt, claimed_at=now, lease_until=now + lease
    )


def check_claim(
    session: Session, *, event_id: str, attempt: int, now: datetime, lease: timedelta
) -> None:
    """Raise LeaseLost unless this claim still owns the row; call it last in a transaction
    that writes the delivery's outcome (routing.db.fenced does), so the outcome commits only
    if nobody took the delivery over.

    PostgreSQL: the inbox is in the same database, and the lease is renewed in that
    transaction: the row stays locked until it commits, so no claim can take it in between.
    SQLite: the inbox is another file, and this reads it. The caller has written to the main
    file by now, so it holds that file's write lock: a claim that takes the row after this
    read can only start its own work on the message once this transaction has committed, and
    it then finds the outcome recorded (routing.conversations decides such a delivery once).
    """
    if _sqlite(session):
        owner = session.execute(
            select(InboxEvent.attempts, InboxEvent.status).where(InboxEvent.event_id == event_id)
        ).first()
        owned = owner is not None and tuple(owner) == (attempt, WORKING)
    else:
        owned = renew(session, event_id=event_id, attempt=attempt, now=now, lease=lease)
    if not owned:
        raise LeaseLost(event_id, attempt)


def mark_done(session: Session, *, event_id: str, attempt: int, now: datetime) -> bool:
    return _settle(session, event_id=event_id, attempt=attempt, status=DONE, done_at=now)


def mark_retry(session: Session, *, event_id: str, attempt: int, error: str, now: datetime) -> bool:
    """Claimable again once `retry_delay` has passed since `now` (kept in claimed_at)."""
    return _settle(
        session,
        event_id=event_id,
        attempt=attempt,
        status=RETRY,
        claimed_at=now,
        last_error=error[:4000],
    )


def mark_failed(
    session: Session, *, event_id: str, attempt: int, error: str, now: datetime
) -> bool:
    return _settle(
        session,
        event_id=event_id,
        attempt=attempt,
        status=FAILED,
        done_at=now,
        last_error=error[:4000],
    )


def has_claimable(
    session: Session, *, now: datetime, lease: timedelta, retry_delay: timedelta
) -> bool:
    claimable = _claimable(now=now, lease=lease, retry_delay=retry_delay)
    return session.scalar(select(InboxEvent.event_id).where(claimable).limit(1)) is not None


def counts(session: Session) -> dict[str, int]:
    """How many deliveries are in each state (for health checks and the worker's log)."""
    rows = session.execute(
        select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
    ).all()
    return {status: int(n) for status, n in rows}


def rows(session: Session, *, status: str | None = None) -> list[InboxEvent]:
    stmt = select(InboxEvent).order_by(InboxEvent.received_at, InboxEvent.event_id)
    if status is not None:
        stmt = stmt.where(InboxEvent.status == status)
    return list(session.scalars(stmt))


def purge_done(factory: sessionmaker[Session], *, before: datetime, batch: int = 500) -> int:
    """Delete the deliveries handled before `before`, `batch` rows per statement so an ack
    never waits long for the inbox; failed ones stay for a person to read. The event ids
    stay deduplicated after the purge: slack_events keeps every one (routing.conversations)."""
    total = 0
    while True:
        oldest = (
            select(InboxEvent.event_id)
            .where(InboxEvent.status == DONE, InboxEvent.done_at < before)
            .limit(batch)
        )
        stmt = delete(InboxEvent).where(InboxEvent.event_id.in_(oldest.scalar_subquery()))
        with writes(factory) as session:
            if _sqlite(session):
                result: CursorResult[Any] = session.execute(stmt)  # type: ignore[assignment]
                deleted = result.rowcount
            else:
                deleted = len(session.execute(stmt.returning(InboxEvent.event_id)).all())
        total += deleted
        if deleted < batch:
            return total
