"""Queries on job_runs: one row per (job, period), the record that a period ran, once.

The unique (job_id, period_key) is the guarantee: whoever inserts the row first runs the
period, on any process. The claim is committed before the work starts, so every other
process sees "running" and stays out; the outcome is recorded after.

Retry policy: a failed period is claimed again (its row flips back to running) once
`retry_after` has passed since it failed, by whichever tick comes first; a running row older
than `stale_after` belongs to a process that died mid-run and is claimed again the same way.
Both are conditional UPDATEs, so two claimers still get one winner. Jobs must be idempotent
for the period (their own unique keys make a re-run after a crash harmless).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from routing.calendars import check_aware
from routing.db import add_if_new
from routing.models import JobRun

RUNNING, DONE, FAILED = "running", "done", "failed"
STATUSES = (RUNNING, DONE, FAILED)
_ERROR_LIMIT = 4000  # a traceback's last lines are the useful ones


def claim(
    session: Session,
    *,
    job_id: str,
    period_key: str,
    owner: str,
    now: datetime,
    retry_after: timedelta = timedelta(minutes=5),
    stale_after: timedelta = timedelta(hours=2),
) -> JobRun | None:
    """Take (job_id, period_key) for `owner`, or None if it is done, running elsewhere, or
    failed too recently. Commit the session right after: the claim is what others see."""
    now = check_aware(now, "now")
    if not job_id or not period_key:
        raise ValueError("job_id and period_key must be non-empty")
    run = JobRun(job_id=job_id, period_key=period_key, status=RUNNING, started_at=now, owner=owner)
    if add_if_new(session, run):  # a lost race leaves the session usable
        return run
    taken = session.execute(
        update(JobRun)
        .where(
            JobRun.job_id == job_id,
            JobRun.period_key == period_key,
            or_(
                (JobRun.status == FAILED) & (JobRun.finished_at <= now - retry_after),
                (JobRun.status == RUNNING) & (JobRun.started_at <= now - stale_after),
            ),
        )
        .values(status=RUNNING, started_at=now, finished_at=None, owner=owner)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return get(session, job_id=job_id, period_key=period_key, refresh=True)


def mark_done(session: Session, *, run_id: int, now: datetime) -> None:
    _finish(session, run_id=run_id, status=DONE, error=None, now=now)


def mark_failed(session: Session, *, run_id: int, error: str, now: datetime) -> None:
    """Record the failure with its error (kept short: the end of a traceback)."""
    _finish(session, run_id=run_id, status=FAILED, error=error[-_ERROR_LIMIT:] or "?", now=now)


def _finish(
    session: Session, *, run_id: int, status: str, error: str | None, now: datetime
) -> None:
    now = check_aware(now, "now")
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(status=status, finished_at=now, error=error)
        .execution_options(synchronize_session=False)
    )


def get(session: Session, *, job_id: str, period_key: str, refresh: bool = False) -> JobRun | None:
    stmt = select(JobRun).where(JobRun.job_id == job_id, JobRun.period_key == period_key)
    if refresh:
        stmt = stmt.execution_options(populate_existing=True)
    return session.scalars(stmt).one_or_none()


def latest_period_key(session: Session, *, job_id: str) -> str | None:
    """The latest period this job has a row for (run, running or failed), or None."""
    return session.scalar(select(func.max(JobRun.period_key)).where(JobRun.job_id == job_id))


def list_runs(
    session: Session, *, job_id: str | None = None, status: str | None = None, limit: int = 50
) -> Sequence[JobRun]:
    """The most recent runs first."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    stmt = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job_id is not None:
        stmt = stmt.where(JobRun.job_id == job_id)
    if status is not None:
        stmt = stmt.where(JobRun.status == status)
    return session.scalars(stmt).all()
