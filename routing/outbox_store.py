"""Outbox queries: Slack Web API calls kept in the database until Slack took them.

A row is claimed by setting status "sending" with a lease (its `next_attempt_at`); a process
that dies mid-call leaves the lease to run out and another process takes the row again.
A claim is one statement, so two workers never both own a row, on SQLite (one writer at a
time) as on PostgreSQL (FOR UPDATE SKIP LOCKED keeps workers off each other's rows without
waiting); a delivery's outcome is written only if its attempt still holds the row.

`last_error` starting with OUTCOME_UNKNOWN says the last attempt may have reached Slack
without its outcome being recorded (a timeout, a 5xx, a lease that ran out): before sending
such a post again, the outbox looks for it in Slack (bot.outbox).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from routing.models import OutboxMessage

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
_OPEN = (PENDING, SENDING)
# The prefix of `last_error` when the last attempt may have reached Slack unrecorded.
OUTCOME_UNKNOWN = "outcome unknown: "
LEASE_RAN_OUT = OUTCOME_UNKNOWN + "the lease ran out before the outcome was recorded"


def enqueue(
    session: Session,
    *,
    method: str,
    payload: dict[str, Any],
    ordering_key: str | None,
    now: datetime,
) -> int:
    """Add a call in the caller's transaction: it is sent only if that transaction commits."""
    row = OutboxMessage(
        method=method,
        payload=payload,
        ordering_key=ordering_key,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def _head_of_its_key() -> Any:
    """Open, and no older open row with the same ordering key."""
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        earlier.ordering_key == OutboxMessage.ordering_key,
        earlier.id < OutboxMessage.id,
        earlier.status.in_(_OPEN),
    )
    return and_(
        OutboxMessage.status.in_(_OPEN), or_(OutboxMessage.ordering_key.is_(None), ~blocked)
    )


def claim_due(
    session: Session, *, now: datetime, lease: timedelta, limit: int = 20
) -> list[OutboxMessage]:
    """Take the rows due now, at most one per ordering key: the oldest open one of its key.

    A later row of a thread waits while an earlier one is open (even one waiting for its retry),
    so a thread's messages reach Slack in the order they were written. One UPDATE ... RETURNING:
    on SQLite the write lock is held for one statement; on PostgreSQL the subquery's
    FOR UPDATE SKIP LOCKED leaves rows another worker is claiming to that worker.

    A row taken back from "sending" (its lease ran out: the process died, or the database
    failed between Slack's answer and recording it) gets LEASE_RAN_OUT as its last error:
    nobody knows whether that attempt reached Slack. SET reads the row as it was.
    """
    due = (
        select(OutboxMessage.id)
        .where(_head_of_its_key(), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxMessage)
    )
    claimed = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(
            status=SENDING,
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + lease,
            last_error=case(
                (OutboxMessage.status == SENDING, literal(LEASE_RAN_OUT)),
                else_=OutboxMessage.last_error,
            ),
        )
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    return sorted(claimed, key=lambda row: row.id)


def outcome_unknown(row: OutboxMessage) -> bool:
    """The last attempt may have reached Slack, and we did not learn its answer."""
    return (row.last_error or "").startswith(OUTCOME_UNKNOWN)


def _settle(session: Session, *, row_id: int, attempt: int, **values: Any) -> bool:
    """Write a delivery outcome unless the lease was lost to another worker meanwhile.

    RETURNING rather than rowcount, which psycopg does not always report through SQLAlchemy.
    """
    settled = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.attempts == attempt,
            OutboxMessage.status == SENDING,
        )
        .values(**values)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).first()
    return settled is not None


def mark_sent(
    session: Session, *, row_id: int, attempt: int, result: dict[str, Any], now: datetime
) -> bool:
    return _settle(
        session,
        row_id=row_id,
        attempt=attempt,
        status=SENT,
        result=result,
        sent_at=now,
        last_error=None,
    )


def mark_retry(session: Session, *, row_id: int, attempt: int, at: datetime, error: str) -> bool:
    return _settle(
        session,
        row_id=row_id,
        attempt=attempt,
        status=PENDING,
        next_attempt_at=at,
        last_error=error[:2000],
    )


def mark_failed(session: Session, *, row_id: int, attempt: int, error: str) -> bool:
    return _settle(session, row_id=row_id, attempt=attempt, status=FAILED, last_error=error[:2000])


def next_due_at(session: Session) -> datetime | None:
    """When the earliest open row falls due (a lease end counts), for the worker's sleep."""
    return session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(_head_of_its_key()))


def rows(
    session: Session, *, status: str | None = None, ordering_key: str | None = None
) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if ordering_key is not None:
        stmt = stmt.where(OutboxMessage.ordering_key == ordering_key)
    return list(session.scalars(stmt))
