"""SLA clocks kept in the database, and the sweep that fires their warnings and breaches.

A clock is one row per ticket, target and generation. While it runs, its warning and
deadline instants are stored, and `next_fire_at` (indexed) is the earliest one still to
fire: the sweep reads only the rows that are due, so 100,000 open tickets cost an index
range scan. Nothing lives only in memory: after a restart the next sweep finds what fell
due while the service was down and fires it once, late.

"Exactly once" is the database's job, not the scheduler's: a warning is claimed by
`UPDATE … SET warned_at = now WHERE warned_at IS NULL … RETURNING id` (likewise breached_at),
so of two sweepers running at once only the one whose UPDATE changed the row reports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, func, insert, select, update
from sqlalchemy.orm import Session

from routing.calendars import check_aware
from routing.models import Seller, SlaClock, Ticket, TicketEvent
from routing.sla_policy import SlaPolicy

RUNNING, PAUSED, MET, CANCELLED = "running", "paused", "met", "cancelled"
ACTIVE = (RUNNING, PAUSED)
_CHUNK = 500  # ids per UPDATE … IN (…): well under SQLite's bound-parameter limit

_clocks = cast(Table, SlaClock.__table__)


@dataclass(frozen=True)
class SlaAlert:
    """What the sweep fired and whom to tell. `escalate_to` (roles, in order) is the policy's
    chain on a breach and empty on a warning."""

    ticket_id: int
    number: int
    kind: str  # "warning" | "breach"
    target: str
    level: int
    deadline_at: datetime | None
    seller_id: str
    account_manager_id: str | None
    escalate_to: list[str] = field(default_factory=list)
    owner_id: str | None = None
    fired_at: datetime | None = None
    clock_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("deadline_at", "fired_at"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        return out


def _budget_used(clock: SlaClock) -> timedelta:
    return timedelta(seconds=clock.consumed_seconds or 0.0)


def _schedule(clock: SlaClock, policy: SlaPolicy) -> None:
    """Store the warning and deadline of a running clock, and what fires next."""
    assert clock.running_since is not None
    used = _budget_used(clock)
    clock.deadline_at = policy.deadline(
        clock.level, clock.target, clock.running_since, consumed=used
    )
    clock.warn_at = policy.warning_at(clock.level, clock.target, clock.running_since, consumed=used)
    clock.next_fire_at = _next_fire(clock)


def _next_fire(clock: SlaClock) -> datetime | None:
    if clock.status != RUNNING:
        return None
    if clock.warned_at is None:
        return clock.warn_at
    if clock.breached_at is None:
        return clock.deadline_at
    return None


def active_clocks(
    session: Session, *, ticket_id: int, targets: Iterable[str] | None = None
) -> list[SlaClock]:
    """The ticket's running or paused clocks, locked (FOR UPDATE on PostgreSQL) and re-read,
    so a lifecycle change and a concurrent sweep never work from stale values."""
    query = select(SlaClock).where(SlaClock.ticket_id == ticket_id, SlaClock.status.in_(ACTIVE))
    if targets is not None:
        query = query.where(SlaClock.target.in_(list(targets)))
    query = query.order_by(SlaClock.id).with_for_update()
    return list(session.scalars(query.execution_options(populate_existing=True)))


def start_clock(
    session: Session,
    *,
    ticket_id: int,
    target: str,
    level: int,
    now: datetime,
    policy: SlaPolicy,
    paused: bool = False,
) -> SlaClock:
    """A new generation of `target` for the ticket, with the full budget of `level`. A paused
    clock (the ticket waits on the seller) stores no deadline until it resumes."""
    now = check_aware(now, "now")
    policy.target(level, target)  # fail early on an unknown level or target
    last = session.scalar(
        select(func.max(SlaClock.generation)).where(
            SlaClock.ticket_id == ticket_id, SlaClock.target == target
        )
    )
    clock = SlaClock(
        ticket_id=ticket_id,
        target=target,
        generation=(last or 0) + 1,
        level=level,
        started_at=now,
        consumed_seconds=0.0,
        running_since=None if paused else now,
        status=PAUSED if paused else RUNNING,
    )
    if not paused:
        _schedule(clock, policy)
    session.add(clock)
    return clock


def pause(clock: SlaClock, *, now: datetime, policy: SlaPolicy) -> None:
    """Stop a running clock, keeping the business time it has used so far."""
    if clock.status != RUNNING or clock.running_since is None:
        return
    calendar = policy.target(clock.level, clock.target).calendar
    used = calendar.elapsed(clock.running_since, now)
    clock.consumed_seconds = (clock.consumed_seconds or 0.0) + used.total_seconds()
    clock.running_since = None
    clock.deadline_at = clock.warn_at = clock.next_fire_at = None
    clock.status = PAUSED


def resume(clock: SlaClock, *, now: datetime, policy: SlaPolicy) -> None:
    """Run a paused clock again from `now` with what is left of its budget: a warning or a
    breach already fired stays fired, one not yet fired is rescheduled."""
    if clock.status != PAUSED:
        return
    clock.status = RUNNING
    clock.running_since = now
    _schedule(clock, policy)


def stop(clock: SlaClock, *, now: datetime, policy: SlaPolicy, status: str) -> None:
    """End a clock as met (the target was reached) or cancelled (no longer applies)."""
    assert status in (MET, CANCELLED)
    if clock.status == RUNNING and clock.running_since is not None:
        calendar = policy.target(clock.level, clock.target).calendar
        used = calendar.elapsed(clock.running_since, now)
        clock.consumed_seconds = (clock.consumed_seconds or 0.0) + used.total_seconds()
    clock.status = status
    clock.running_since = None
    clock.next_fire_at = None
    if status == MET:
        clock.met_at = now


# ---- the sweep ---------------------------------------------------------------------------


def fetch_due(session: Session, *, now: datetime, limit: int | None = None) -> list[Any]:
    """Clocks with something to fire at `now`, earliest first (an index range scan)."""
    query = (
        select(
            SlaClock.id,
            SlaClock.ticket_id,
            SlaClock.target,
            SlaClock.level,
            SlaClock.warn_at,
            SlaClock.deadline_at,
            SlaClock.warned_at,
            SlaClock.breached_at,
            Ticket.number,
            Ticket.seller_id,
            Ticket.owner_id,
            Seller.account_manager_id,
        )
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .join(Seller, Seller.seller_id == Ticket.seller_id)
        .where(SlaClock.next_fire_at <= now)
        .order_by(SlaClock.next_fire_at, SlaClock.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query))


def _claim(session: Session, ids: Sequence[int], *, now: datetime, breach: bool) -> set[int]:
    """Mark the clocks fired; returns the ids this call changed (another sweeper's are not)."""
    claimed: set[int] = set()
    c = _clocks.c
    for i in range(0, len(ids), _CHUNK):
        chunk = list(ids[i : i + _CHUNK])
        if breach:
            # A warning not yet fired is overtaken by the breach: it is marked, not sent late.
            stmt = (
                update(_clocks)
                .where(
                    c.id.in_(chunk),
                    c.status == RUNNING,
                    c.breached_at.is_(None),
                    c.deadline_at <= now,
                )
                .values(
                    breached_at=now,
                    warned_at=func.coalesce(c.warned_at, now),
                    next_fire_at=None,
                )
            )
        else:
            stmt = (
                update(_clocks)
                .where(
                    c.id.in_(chunk),
                    c.status == RUNNING,
                    c.warned_at.is_(None),
                    c.warn_at <= now,
                )
                .values(
                    warned_at=now,
                    next_fire_at=case((c.breached_at.is_(None), c.deadline_at), else_=None),
                )
            )
        claimed.update(session.execute(stmt.returning(c.id)).scalars())
    return claimed


def _repair(session: Session, ids: Sequence[int]) -> None:
    """A due row whose fire was already claimed (by a concurrent change) gets its true next
    instant back, so it is not read again on every sweep."""
    c = _clocks.c
    for i in range(0, len(ids), _CHUNK):
        session.execute(
            update(_clocks)
            .where(c.id.in_(list(ids[i : i + _CHUNK])))
            .values(
                next_fire_at=case(
                    (c.status != RUNNING, None),
                    (c.warned_at.is_(None), c.warn_at),
                    (c.breached_at.is_(None), c.deadline_at),
                    else_=None,
                )
            )
        )


def sweep(
    session: Session, *, now: datetime, policy: SlaPolicy, limit: int | None = None
) -> list[SlaAlert]:
    """Fire every warning (75 %) and breach due at `now`, each exactly once, and record them
    as ticket events. Returns what to notify; whom, and the telling, are routing.escalation's
    (its `sweep` calls this one). Does not commit: the caller's transaction makes the claims,
    the events and the queued messages one unit."""
    now = check_aware(now, "now")
    rows = fetch_due(session, now=now, limit=limit)
    breach_ids = [r.id for r in rows if r.breached_at is None and r.deadline_at <= now]
    breach_set = set(breach_ids)
    warn_ids = [
        r.id
        for r in rows
        if r.id not in breach_set and r.warned_at is None and r.warn_at is not None
        if r.warn_at <= now
    ]
    fired_breach = _claim(session, breach_ids, now=now, breach=True)
    fired_warn = _claim(session, warn_ids, now=now, breach=False)
    _repair(session, [r.id for r in rows if r.id not in fired_breach and r.id not in fired_warn])

    alerts: list[SlaAlert] = []
    events: list[dict[str, Any]] = []
    for r in rows:
        if r.id not in fired_breach and r.id not in fired_warn:
            continue
        breach = r.id in fired_breach
        roles = policy.escalation(r.level) if breach else []
        alert = SlaAlert(
            ticket_id=r.ticket_id,
            number=r.number,
            kind="breach" if breach else "warning",
            target=r.target,
            level=r.level,
            deadline_at=r.deadline_at,
            seller_id=r.seller_id,
            account_manager_id=r.account_manager_id,
            escalate_to=roles,
            owner_id=r.owner_id,
            fired_at=now,
            clock_id=r.id,
        )
        alerts.append(alert)
        due = r.deadline_at if breach else r.warn_at
        data = {
            "target": r.target,
            "level": r.level,
            "deadline_at": r.deadline_at.isoformat(),
            "late_seconds": round((now - due).total_seconds(), 3),
        }
        if breach:
            data["warning_skipped"] = r.warned_at is None
        kind = "sla_breach" if breach else "sla_warning"
        events.append(event_row(r.ticket_id, now, kind, data))
    if events:
        session.execute(insert(TicketEvent), events)
    return alerts


def event_row(ticket_id: int, at: datetime, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A ticket_events row for a bulk insert: a system event, no actor, no Slack message."""
    return {
        "ticket_id": ticket_id,
        "at": at,
        "actor_id": None,
        "kind": kind,
        "data": data,
        "slack_channel": None,
        "slack_ts": None,
    }
