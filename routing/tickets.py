"""The ticket lifecycle: open → claimed → waiting on seller → resolved, and reopen.

Every change appends a ticket_events row (who, what, when, which Slack message); the
ticket row is a cache of the fold of its events (`replay`). No function here commits:
the caller's transaction is the unit. A repeated action (the same click delivered twice)
changes nothing the second time; a transition the lifecycle does not allow raises
TicketError with a sentence a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from routing import sla_clocks
from routing.calendars import check_aware
from routing.models import RelevelExample, Seller, Ticket, TicketEvent
from routing.sla_policy import SlaPolicy, UnknownLevelError
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

KINDS = ("question", "problem")
FIRST_NUMBER = 1001
SUMMARY_CHARS = 2000


class TicketError(ValueError):
    """An action the ticket's state does not allow, or a bad value; says which."""


class NotStaff(TicketError):
    """Only staff may claim, re-level, wait on the seller or resolve."""


@dataclass(frozen=True)
class ClaimResult:
    won: bool
    owner_id: str
    ticket: Ticket | None = None


def _event(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    now: datetime,
    actor_id: str | None = None,
    data: dict[str, Any] | None = None,
    slack_channel: str | None = None,
    slack_ts: str | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        actor_id=actor_id,
        kind=kind,
        data=data or {},
        slack_channel=slack_channel or (ticket.channel_id if slack_ts else None),
        slack_ts=slack_ts,
    )
    session.add(event)
    ticket.updated_at = now
    return event


def _load(session: Session, ticket_id: int) -> Ticket:
    """The ticket row, locked on PostgreSQL (FOR UPDATE) and re-read: concurrent actions on
    one ticket happen one after the other."""
    ticket = session.get(Ticket, ticket_id, with_for_update=True, populate_existing=True)
    if ticket is None:
        raise TicketError(f"no ticket with id {ticket_id}")
    return ticket


def _check_level(policy: SlaPolicy, level: int) -> None:
    try:
        policy.targets(level)
    except UnknownLevelError as exc:
        raise TicketError(str(exc)) from exc


def do_record_event(
    session: Session,
    *,
    ticket_id: int,
    kind: str,
    now: datetime,
    actor_id: str | None = None,
    data: dict[str, Any] | None = None,
    slack_channel: str | None = None,
    slack_ts: str | None = None,
) -> TicketEvent:
    """An event that changes no state (an escalation told, an escalation gap, a note)."""
    ticket = _load(session, ticket_id)
    return _event(
        session,
        ticket,
        kind,
        now=check_aware(now, "now"),
        actor_id=actor_id,
        data=data,
        slack_channel=slack_channel,
        slack_ts=slack_ts,
    )


def do_link_slack(
    session: Session,
    *,
    ticket_id: int,
    now: datetime,
    seller_card_ts: str | None = None,
    triage_channel: str | None = None,
    triage_ts: str | None = None,
) -> Ticket:
    """Remember where the ticket's cards are (the seller thread's card, the triage post)."""
    ticket = _load(session, ticket_id)
    if seller_card_ts is not None:
        ticket.seller_card_ts = seller_card_ts
    if triage_channel is not None:
        ticket.triage_channel = triage_channel
    if triage_ts is not None:
        ticket.triage_ts = triage_ts
    ticket.updated_at = check_aware(now, "now")
    return ticket


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
    _check_level(policy, level)
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
        try:
            with session.begin_nested():
                session.add(candidate)
                session.flush()
        except IntegrityError:
            existing = ticket_for_thread(session, channel_id=channel_id, thread_ts=thread_ts)
            if existing is not None:
                return existing
            continue
        ticket = candidate
        break
    if ticket is None:
        raise TicketError("could not allocate a ticket number; try again")
    _event(
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
    ticket = _load(session, ticket_id)
    if changed is not None:
        _event(session, ticket, "claimed", now=now, actor_id=user_id)
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
    _check_level(policy, level)
    ticket = _load(session, ticket_id)
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
    _event(
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


def do_wait_on_seller(
    session: Session, *, ticket_id: int, user_id: str, now: datetime, policy: SlaPolicy
) -> Ticket:
    """Pause the running clocks until the seller writes again."""
    now = check_aware(now, "now")
    ticket = _load(session, ticket_id)
    if ticket.status == "waiting_on_seller":
        return ticket
    if ticket.status == "resolved":
        raise TicketError(f"ticket #{ticket.number} is resolved; it cannot wait on the seller")
    paused = []
    for clock in sla_clocks.active_clocks(session, ticket_id=ticket.id):
        if clock.status == sla_clocks.RUNNING:
            sla_clocks.pause(clock, now=now, policy=policy)
            paused.append(clock.target)
    ticket.status = "waiting_on_seller"
    _event(session, ticket, "waiting_on_seller", now=now, actor_id=user_id, data={"paused": paused})
    session.flush()
    return ticket


def do_seller_replied(
    session: Session,
    *,
    ticket_id: int,
    now: datetime,
    policy: SlaPolicy,
    slack_ts: str | None = None,
    user_id: str | None = None,
) -> Ticket:
    """The seller wrote in the thread: paused clocks resume with the budget they had left;
    after a first response, the next_response clock starts (once, until staff answers).
    On a resolved ticket the message is only recorded (reopening is the seller's "no")."""
    now = check_aware(now, "now")
    ticket = _load(session, ticket_id)
    data: dict[str, Any] = {}
    if ticket.status != "resolved":
        active = sla_clocks.active_clocks(session, ticket_id=ticket.id)
        if ticket.status == "waiting_on_seller":
            for clock in active:
                sla_clocks.resume(clock, now=now, policy=policy)
            ticket.status = "claimed" if ticket.owner_id else "open"
            data["resumed"] = [c.target for c in active]
        has_next = any(c.target == "next_response" for c in active)
        if ticket.first_response_at is not None and not has_next:
            sla_clocks.start_clock(
                session,
                ticket_id=ticket.id,
                target="next_response",
                level=ticket.level,
                now=now,
                policy=policy,
            )
            data["started"] = ["next_response"]
    _event(
        session, ticket, "seller_replied", now=now, actor_id=user_id, data=data, slack_ts=slack_ts
    )
    session.flush()
    return ticket


def do_staff_replied(
    session: Session,
    *,
    ticket_id: int,
    user_id: str,
    now: datetime,
    policy: SlaPolicy,
    slack_ts: str | None = None,
) -> Ticket:
    """A staff reply in the seller's thread is the response: it meets the first_response
    (sets first_response_at) and next_response clocks."""
    now = check_aware(now, "now")
    ticket = _load(session, ticket_id)
    met = []
    if ticket.status != "resolved":
        for clock in sla_clocks.active_clocks(
            session, ticket_id=ticket.id, targets=("first_response", "next_response")
        ):
            sla_clocks.stop(clock, now=now, policy=policy, status=sla_clocks.MET)
            met.append(clock.target)
        if ticket.first_response_at is None:
            ticket.first_response_at = now
    _event(
        session,
        ticket,
        "staff_replied",
        now=now,
        actor_id=user_id,
        data={"met": met},
        slack_ts=slack_ts,
    )
    session.flush()
    return ticket


def do_resolve(
    session: Session,
    *,
    ticket_id: int,
    user_id: str | None,
    now: datetime,
    policy: SlaPolicy | None = None,
) -> Ticket:
    """Resolve: the resolution clock is met, every other clock stops (cancelled)."""
    now = check_aware(now, "now")
    ticket = _load(session, ticket_id)
    if ticket.status == "resolved":
        return ticket
    policy = _policy(policy)
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
    _event(
        session,
        ticket,
        "resolved",
        now=now,
        actor_id=user_id,
        data={"met": met, "cancelled": cancelled},
    )
    session.flush()
    return ticket


def _policy(policy: SlaPolicy | None) -> SlaPolicy:
    # do_resolve's contract has no policy; stopping a clock needs its calendar to record the
    # business time used, so the packaged defaults stand in when none is given.
    if policy is not None:
        return policy
    from routing.sla_policy import load_policy

    return load_policy()


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
    ticket = _load(session, ticket_id)
    if ticket.status != "resolved":
        raise TicketError(f"ticket #{ticket.number} is not resolved (it is {ticket.status})")
    ticket.status = "claimed" if ticket.owner_id else "open"
    ticket.resolved_at = None
    response = "first_response" if ticket.first_response_at is None else "next_response"
    for target in ("resolution", response):
        sla_clocks.start_clock(
            session, ticket_id=ticket.id, target=target, level=ticket.level, now=now, policy=policy
        )
    _event(session, ticket, "reopened", now=now, actor_id=actor_id, data={"started": [response]})
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
    ticket = _load(session, ticket_id)
    if ticket.satisfaction is not None:
        return ticket
    if ticket.status != "resolved":
        raise TicketError(f"ticket #{ticket.number} is not resolved; there is nothing to rate")
    ticket.satisfaction = "yes" if solved else "no"
    _event(session, ticket, "satisfaction", now=now, actor_id=user_id, data={"solved": solved})
    session.flush()
    if not solved:
        do_reopen(session, ticket_id=ticket.id, now=now, policy=policy, actor_id=user_id)
    return ticket
