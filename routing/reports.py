"""What the help-desk lead reads: SLA compliance, first response, deflection, re-levels, the
open queue by age, and the knowledge-gap report for the content team."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from routing.knowledge_gaps import (  # noqa: F401  (re-exported: reports.knowledge_gaps)
    GAP_THRESHOLD,
    STOPWORDS,
    GapReport,
    GapTopic,
    SavedAnswer,
    check_period,
    human_feedback,
    is_problem,
    keywords,
    knowledge_gap_report,
    knowledge_gaps,
)
from routing.models import Question, SlaClock, Ticket, TicketEvent
from routing.sla_policy import TARGET_NAMES

AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("<1h", timedelta(hours=1)),
    ("1-4h", timedelta(hours=4)),
    ("4-24h", timedelta(hours=24)),
    ("1-3d", timedelta(days=3)),
    (">3d", None),
)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def sla_compliance(session: Session, *, since: datetime, now: datetime) -> list[dict[str, Any]]:
    """Per level and target: clocks whose outcome fell in the period (met, or breached), and
    how many were met before their deadline. A cancelled clock counts only if it breached."""
    rows = session.execute(
        select(SlaClock.level, SlaClock.target, SlaClock.met_at, SlaClock.breached_at).where(
            or_(
                SlaClock.breached_at.between(since, now),
                and_(SlaClock.breached_at.is_(None), SlaClock.met_at.between(since, now)),
            )
        )
    )
    counts: dict[tuple[int, str], list[int]] = {}
    for level, target, _met_at, breached_at in rows:
        cell = counts.setdefault((level, target), [0, 0])
        cell[1] += 1
        cell[0] += breached_at is None
    return [
        {
            "level": level,
            "target": target,
            "met": met,
            "total": total,
            "compliance": _ratio(met, total),
        }
        for (level, target), (met, total) in sorted(
            counts.items(), key=lambda kv: (kv[0][0], TARGET_NAMES.index(kv[0][1]))
        )
    ]


def _ticket_on_thread() -> Any:
    return exists().where(
        or_(
            Ticket.question_id == Question.id,
            and_(Ticket.channel_id == Question.channel_id, Ticket.thread_ts == Question.thread_ts),
        )
    )


def report(session: Session, *, since: datetime, now: datetime) -> dict[str, Any]:
    """The lead's figures for [since, now]. First response is wall-clock time from the
    ticket's opening to the first staff reply (what the seller lived through), not business
    time; compliance already accounts for business hours."""
    since, now = check_period(since, now)
    questions = list(
        session.execute(
            select(
                Question.id,
                Question.answered,
                human_feedback(Question.id).label("human"),
                _ticket_on_thread().label("ticketed"),
            ).where(Question.created_at.between(since, now), ~is_problem(Question.id))
        )
    )
    deflected = sum(1 for q in questions if q.answered and not q.human and not q.ticketed)

    relevelled = exists().where(
        TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == "relevelled"
    )
    opened = list(
        session.execute(
            select(
                Ticket.level, Ticket.created_at, Ticket.first_response_at, relevelled.label("rl")
            ).where(Ticket.created_at.between(since, now))
        )
    )
    waits = [
        (t.first_response_at - t.created_at).total_seconds() for t in opened if t.first_response_at
    ]
    by_level: dict[int, list[float]] = {}
    for t in opened:
        if t.first_response_at:
            by_level.setdefault(t.level, []).append(
                (t.first_response_at - t.created_at).total_seconds()
            )
    resolved_count = session.scalar(
        select(func.count(Ticket.id)).where(Ticket.resolved_at.between(since, now))
    )

    return {
        "since": since.isoformat(),
        "now": now.isoformat(),
        "sla": sla_compliance(session, since=since, now=now),
        "first_response": {
            "measure": "wall_clock",
            "count": len(waits),
            "median_seconds": statistics.median(waits) if waits else None,
            "by_level": {
                str(level): statistics.median(values) for level, values in sorted(by_level.items())
            },
        },
        "deflection": {
            "questions": len(questions),
            "deflected": deflected,
            "rate": _ratio(deflected, len(questions)),
        },
        "relevel": {
            "tickets": len(opened),
            "relevelled": sum(1 for t in opened if t.rl),
            "rate": _ratio(sum(1 for t in opened if t.rl), len(opened)),
        },
        "tickets": {"opened": len(opened), "resolved": int(resolved_count or 0)},
        "open_by_age": open_by_age(session, now=now),
    }


def open_by_age(session: Session, *, now: datetime) -> dict[str, int]:
    """Tickets not resolved at `now`, by how long ago they were opened."""
    buckets = dict.fromkeys((name for name, _ in AGE_BUCKETS), 0)
    for created in session.scalars(select(Ticket.created_at).where(Ticket.status != "resolved")):
        age = now - created
        for name, bound in AGE_BUCKETS:
            if bound is None or age < bound:
                buckets[name] += 1
                break
    return buckets
