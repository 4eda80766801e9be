"""The ticket lifecycle: open → claimed → waiting on seller → resolved, and reopen.

Every change appends a ticket_events row (who, what, when, which Slack message); the
ticket row is a cache of the fold of its events (`replay`). No function here commits:
the caller's transaction is the unit. A repeated action (the same click delivered twice)
changes nothing the second time; a transition the lifecycle does not allow raises
TicketError with a sentence a person can act on.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.orm import Session

from routing import sla_clocks
from routing.calendars import check_aware
from routing.db import add_if_new
from routing.models import RelevelExample, Seller, Ticket
from routing.sla_policy import SlaPolicy
from routing.ticket_base import (  # noqa: F401  (errors and helpers, re-exported)
    ClaimResult,
    NotStaff,
    TicketError,
    append_event,
    check_level,
    do_link_slack,
    do_record_event,
    load_ticket,
)
from routing.ticket_queries import (  # noqa: F401  (the read side, re-exported)
    STATUSES,
    TicketState,
    TicketView,
    clocks_of,
    events_of,
    get_by_number,
    list_tickets,
    relevel_examples,
    replay,
    ticket_for_thread,
)
from routing.ticket_replies import (  # noqa: F401  (re-exported: tickets.do_staff_replied …)
    do_seller_replied,
    do_staff_replied,
    do_wait_on_seller,
)

KINDS = ("question", "problem")
FIRST_NUMBER = 1001
SUMMARY_CHARS = 2000


def do_open_ticket(
    session: Session,
    *,
    seller: Seller,
    channel_id: str,
    thread_ts: str,
    text: str,
    kind: str,
    level: int,
    category: str,
    confidence: float,
    reasons: list[str],
    now: datetime,
    policy: SlaPolicy,
    question_id: int | None = None,
    actor_id: str | None = None,
) -> Ticket:
    """Open the ticket of a seller thread, or return the one it already has. Starts the
    first_response and resolution clocks at the level's targets."""
    now = check_aware(now, "now")
    existing = ticket_for_thread(session, channel_id=channel_id, thread_ts=thread_ts)
    if existing is not None:
        return existing
    if kind not in KINDS:
        raise TicketError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    check_level(policy, level)
    if not category:
        raise TicketError("a ticket needs a category")
    ticket = None
    # The next number is max + 1; two openings at once collide on the unique number, and the
    # loser (its savepoint rolled back) reads again: either the thread now has a ticket, or
    # it takes the next number.
    for _ in range(20):
        number = (session.scalar(select(func.max(Ticket.number))) or FIRST_NUMBER - 1) + 1
        candidate = Ticket(
            number=number,
            seller_id=seller.seller_id,
            channel_id=channel_id,
            thread_ts=thread_ts,
            question_id=question_id,
            kind=kind,
            level=level,
            category=category,
            status="open",
            language=seller.language,
            summary=text.strip()[:SUMMARY_CHARS],
            confidence=float(confidence),
            reasons=list(reasons),
            created_at=now,
            updated_at=now,
        )
        if not add_if_new(session, candidate):
            existing = ticket_for_thread(session, channel_id=channel_id, thread_ts=thread_ts)
            if existing is not None:
                return existing
            continue
        ticket = candidate
        break
    if ticket is None:
        raise TicketError("could not allocate a ticket number; try again")
    append_event(
        session,
        ticket,
        "opened",
        now=now,
        actor_id=actor_id,
        data={
            "level": level,
            "kind": kind,
            "category": category,
            "confidence": float(confidence),
            "reasons": list(reasons),
            "question_id": question_id,
        },
        slack_channel=channel_id,
        slack_ts=thread_ts,
    )
    for target in ("first_response", "resolution"):
        sla_clocks.start_clock(
            session, ticket_id=ticket.id, target=target, level=level, now=now, policy=policy
        )
    session.flush()
    return ticket


def do_claim(session: Session, *, ticket_id: int, user_id: str, now: datetime) -> ClaimResult:
    """Take ownership. The conditional UPDATE (… WHERE owner_id IS NULL) is the lock on both
    backends: of two staff clicking at once one changes the row, the other reads its owner.
    Claiming again one's own ticket wins with no second event."""
    now = check_aware(now, "now")
    table = cast(Table, Ticket.__table__)
    t = table.c
    changed = session.execute(
        update(table)
        .where(t.id == ticket_id, t.owner_id.is_(None), t.status != "resolved")
        .values(
            owner_id=user_id,
            status=case((t.status == "open", "claimed"), else_=t.status),
            updated_at=now,
        )
        .returning(t.id)
    ).first()
    ticket = load_ticket(session, ticket_id)
    if changed is not None:
        append_event(session, ticket, "claimed", now=now, actor_id=user_id)
        session.flush()
        return ClaimResult(won=True, owner_id=user_id, ticket=ticket)
    if ticket.status == "resolved":
        raise TicketError(f"ticket #{ticket.number} is resolved; reopen it before claiming it")
    assert ticket.owner_id is not None
    return ClaimResult(won=ticket.owner_id == user_id, owner_id=ticket.owner_id, ticket=ticket)


def _restart_clocks(
    session: Session, ticket: Ticket, *, level: int, now: datetime, policy: SlaPolicy
) -> list[str]:
    """Cancel the running/paused clocks and start each target afresh at `level`."""
    active = sla_clocks.active_clocks(session, ticket_id=ticket.id)
    for clock in active:
        sla_clocks.stop(clock, now=now, policy=policy, status=sla_clocks.CANCELLED)
    session.flush()  # the new generation's number is read after the old one is stored
    targets = [c.target for c in active]
    for target in targets:
        sla_clocks.start_clock(
            session,
            ticket_id=ticket.id,
            target=target,
            level=level,
            now=now,
            policy=policy,
            paused=ticket.status == "waiting_on_seller",
        )
    return targets


def do_relevel(
    session: Session,
    *,
    ticket_id: int,
    level: int,
    user_id: str,
    now: datetime,
    policy: SlaPolicy,
    category: str | None = None,
) -> Ticket:
    """Change the level. New targets from this moment: the running clocks are cancelled and
    restarted with the new level's full targets, the business time already used is NOT
    carried over (a Level 3 found late gets its full hour from now, not a breach at once).
    Keeps the ticket's text with its new label for retraining. Same level: no-op."""
    now = check_aware(now, "now")
    check_level(policy, level)
    ticket = load_ticket(session, ticket_id)
    if ticket.status == "resolved":
        raise TicketError(f"ticket #{ticket.number} is resolved; reopen it to change its level")
    if level == ticket.level and (category is None or category == ticket.category):
        return ticket
    old_level, old_category = ticket.level, ticket.category
    restarted = _restart_clocks(session, ticket, level=level, now=now, policy=policy)
    ticket.level = level
    if category:
        ticket.category = category
    session.add(
        RelevelExample(
            text=ticket.summary,
            kind=ticket.kind,
            level=level,
            category=ticket.category,
            ticket_id=ticket.id,
            by_user=user_id,
            at=now,
        )
    )
    append_event(
        session,
        ticket,
        "relevelled",
        now=now,
        actor_id=user_id,
        data={
            "from": old_level,
            "to": level,
            "category_from": old_category,
            "category": ticket.category,
            "restarted": restarted,
        },
    )
    session.flush()
    return ticket


def do_resolve(
    session: Session,
    *,
    ticket_id: int,
    user_id: str | None,
    now: datetime,
    policy: SlaPolicy,
) -> Ticket:
    """Resolve: the resolution clock is met, every other clock stops (cancelled). The policy
    gives each clock's calendar, to record the business time it used."""
    now = check_aware(now, "now")
    ticket = load_ticket(session, ticket_id)
    if ticket.status == "resolved":
        return ticket
    met, cancelled = [], []
    for clock in sla_clocks.active_clocks(session, ticket_id=ticket.id):
        if clock.target == "resolution":
            sla_clocks.stop(clock, now=now, policy=policy, status=sla_clocks.MET)
            met.append(clock.target)
        else:
            sla_clocks.stop(clock, now=now, policy=policy, status=sla_clocks.CANCELLED)
            cancelled.append(clock.target)
    ticket.status = "resolved"
    ticket.resolved_at = now
    ticket.satisfaction = None  # each resolution asks the seller once
    append_event(
        session,
        ticket,
        "resolved",
        now=now,
        actor_id=user_id,
        data={"met": met, "cancelled": cancelled},
    )
    session.flush()
    return ticket


def do_reopen(
    session: Session,
    *,
    ticket_id: int,
    now: datetime,
    policy: SlaPolicy,
    actor_id: str | None = None,
) -> Ticket:
    """Back to open (claimed if it has an owner), with a new resolution clock and the
    response clock the seller is now owed (first or next)."""
    now = check_aware(now, "now")
    ticket = load_ticket(session, ticket_id)
    if ticket.status != "resolved":
        raise TicketError(f"ticket #{ticket.number} is not resolved (it is {ticket.status})")
    ticket.status = "claimed" if ticket.owner_id else "open"
    ticket.resolved_at = None
    response = "first_response" if ticket.first_response_at is None else "next_response"
    for target in ("resolution", response):
        sla_clocks.start_clock(
            session, ticket_id=ticket.id, target=target, level=ticket.level, now=now, policy=policy
        )
    append_event(
        session, ticket, "reopened", now=now, actor_id=actor_id, data={"started": [response]}
    )
    session.flush()
    return ticket


def do_record_satisfaction(
    session: Session,
    *,
    ticket_id: int,
    solved: bool,
    user_id: str | None,
    now: datetime,
    policy: SlaPolicy,
) -> Ticket:
    """The seller's answer to "is it solved?": "no" reopens. Once per resolution: a second
    click (or a retried delivery) changes nothing."""
    now = check_aware(now, "now")
    ticket = load_ticket(session, ticket_id)
    if ticket.satisfaction is not None:
        return ticket
    if ticket.status != "resolved":
        raise TicketError(f"ticket #{ticket.number} is not resolved; there is nothing to rate")
    ticket.satisfaction = "yes" if solved else "no"
    append_event(
        session, ticket, "satisfaction", now=now, actor_id=user_id, data={"solved": solved}
    )
    session.flush()
    if not solved:
        do_reopen(session, ticket_id=ticket.id, now=now, policy=policy, actor_id=user_id)
    return ticket
