"""Inbox queries: Slack deliveries stored before the ack, until a worker has handled them.

    queued ──claim──▶ working ──▶ done
       ▲                 │
       └── retry ◀───────┤ (an error, attempts left; claimable again after `retry_delay`)
                         └──▶ failed (the last attempt's error kept in `last_error`)

A claim is a compare-and-set on (event_id, attempts): two workers never both own a row, on
SQLite (one writer at a time) as on PostgreSQL (FOR UPDATE SKIP LOCKED keeps workers off each
other's candidates without waiting). A worker that dies mid-row leaves it "working"; once its
`claimed_at` is older than the lease, another claim takes it again. Outcomes are written only
by the claim that still owns the row, so a worker whose lease was taken cannot undo the newer
owner's result.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from routing.models import InboxEvent

QUEUED = "queued"
WORKING = "working"
RETRY = "retry"
DONE = "done"
FAILED = "failed"


def do_store(session: Session, *, event_id: str, body: dict[str, Any], now: datetime) -> bool:
    """Keep a delivery for the worker; False when the event id is already stored (a retry).

    ON CONFLICT DO NOTHING, so a duplicate never aborts the transaction; RETURNING rather than
    rowcount, which psycopg does not report for this statement through SQLAlchemy.
    """
    values = {
        "event_id": event_id,
        "body": body,
        "status": QUEUED,
        "attempts": 0,
        "received_at": now,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(InboxEvent).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(InboxEvent).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"unsupported database {dialect}")
    return session.execute(stmt.returning(InboxEvent.event_id)).first() is not None


def _claimable(*, now: datetime, lease: timedelta, retry_delay: timedelta) -> Any:
    return or_(
        InboxEvent.status == QUEUED,
        and_(InboxEvent.status == RETRY, InboxEvent.claimed_at <= now - retry_delay),
        and_(InboxEvent.status == WORKING, InboxEvent.claimed_at <= now - lease),
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
        taken = session.execute(
            update(InboxEvent)
            .where(InboxEvent.event_id == event_id, InboxEvent.attempts == attempts, claimable)
            .values(status=WORKING, attempts=attempts + 1, claimed_at=now)
            .returning(InboxEvent.body)
            .execution_options(synchronize_session=False)
        ).first()
        if taken is not None:
            return event_id, dict(taken.body), attempts + 1
    return None


def _settle(session: Session, *, event_id: str, attempt: int, **values: Any) -> bool:
    """Write an outcome unless this claim lost the row (its lease ran out and was retaken)."""
    settled = session.execute(
        update(InboxEvent)
        .where(
            InboxEvent.event_id == event_id,
            InboxEvent.attempts == attempt,
            InboxEvent.status == WORKING,
        )
        .values(**values)
        .returning(InboxEvent.event_id)
        .execution_options(synchronize_session=False)
    ).first()
    return settled is not None


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
