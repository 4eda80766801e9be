"""The conversation side of a ticket: waiting on the seller, the seller's and staff's replies,
and what they do to the SLA clocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from routing import sla_clocks
from routing.calendars import check_aware
from routing.models import Ticket
from routing.sla_policy import SlaPolicy
from routing.ticket_base import TicketError, append_event, load_ticket


def do_wait_on_seller(
    session: Session, *, ticket_id: int, user_id: str, now: datetime, policy: SlaPolicy
) -> Ticket:
    """Pause the running clocks until the seller writes again."""
    now = check_aware(now, "now")
    ticket = load_ticket(session, ticket_id)
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
    append_event(
        session, ticket, "waiting_on_seller", now=now, actor_id=user_id, data={"paused": paused}
    )
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
    ticket = load_ticket(session, ticket_id)
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
    append_event(
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
    ticket = load_ticket(session, ticket_id)
    met = []
    if ticket.status != "resolved":
        for clock in sla_clocks.active_clocks(
            session, ticket_id=ticket.id, targets=("first_response", "next_response")
        ):
            sla_clocks.stop(clock, now=now, policy=policy, status=sla_clocks.MET)
            met.append(clock.target)
        if ticket.first_response_at is None:
            ticket.first_response_at = now
    append_event(
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
