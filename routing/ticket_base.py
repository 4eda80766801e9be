"""What every ticket action shares: its errors, the event row it appends, the row lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from routing.calendars import check_aware
from routing.models import Ticket, TicketEvent
from routing.sla_policy import SlaPolicy, UnknownLevelError


class TicketError(ValueError):
    """An action the ticket's state does not allow, or a bad value; says which."""


class NotStaff(TicketError):
    """Only staff may claim, re-level, wait on the seller or resolve."""


@dataclass(frozen=True)
class ClaimResult:
    won: bool
    owner_id: str
    ticket: Ticket | None = None


def append_event(
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


def load_ticket(session: Session, ticket_id: int) -> Ticket:
    """The ticket row, locked on PostgreSQL and re-read: concurrent actions on one ticket
    happen one after the other. FOR NO KEY UPDATE, not FOR UPDATE: a sweep holding a clock
    row inserts an event whose foreign key takes KEY SHARE on this ticket, and the two must
    not wait on each other (a deadlock otherwise)."""
    ticket = session.get(
        Ticket, ticket_id, with_for_update={"key_share": True}, populate_existing=True
    )
    if ticket is None:
        raise TicketError(f"no ticket with id {ticket_id}")
    return ticket


def check_level(policy: SlaPolicy, level: int) -> None:
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
    ticket = load_ticket(session, ticket_id)
    return append_event(
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
    ticket = load_ticket(session, ticket_id)
    if seller_card_ts is not None:
        ticket.seller_card_ts = seller_card_ts
    if triage_channel is not None:
        ticket.triage_channel = triage_channel
    if triage_ts is not None:
        ticket.triage_ts = triage_ts
    ticket.updated_at = check_aware(now, "now")
    return ticket
