"""Read side of the help desk: ticket look-ups, the queue ordered by deadline, the event log
and the replay that explains a ticket's state from its events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routing.models import RelevelExample, Seller, SlaClock, Ticket, TicketEvent
from routing.sla_policy import TARGET_NAMES

STATUSES = ("open", "claimed", "waiting_on_seller", "resolved")


def ticket_for_thread(session: Session, *, channel_id: str, thread_ts: str) -> Ticket | None:
    return session.scalar(
        select(Ticket).where(Ticket.channel_id == channel_id, Ticket.thread_ts == thread_ts)
    )


def get_by_number(session: Session, *, number: int) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.number == number))


def events_of(session: Session, *, ticket_id: int) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(TicketEvent.id)))


def clocks_of(session: Session, *, ticket_id: int) -> list[SlaClock]:
    query = select(SlaClock).where(SlaClock.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(SlaClock.id)))


def relevel_examples(session: Session) -> list[tuple[str, str, int, str]]:
    """Staff re-levels as (text, kind, level, category), what `classify.train` takes as
    `extra_examples`; the latest label wins when a text was re-levelled twice."""
    rows = session.execute(
        select(
            RelevelExample.text, RelevelExample.kind, RelevelExample.level, RelevelExample.category
        ).order_by(RelevelExample.id)
    )
    latest: dict[str, tuple[str, str, int, str]] = {}
    for text, kind, level, category in rows:
        latest[text] = (text, kind, level, category)
    return list(latest.values())


@dataclass(frozen=True)
class TicketState:
    status: str
    owner_id: str | None
    level: int


def replay(events: Iterable[TicketEvent]) -> TicketState:
    """The state a ticket must be in after these events, in order. A test compares it with
    the stored row: the row is a cache of this fold, never the other way round."""
    status, owner, level = "", None, 0
    for e in events:
        if e.kind == "opened":
            status, owner, level = "open", None, int(e.data["level"])
        elif e.kind == "claimed":
            owner = e.actor_id
            status = "claimed" if status == "open" else status
        elif e.kind == "relevelled":
            level = int(e.data["to"])
        elif e.kind == "waiting_on_seller":
            status = "waiting_on_seller"
        elif e.kind == "seller_replied" and status == "waiting_on_seller":
            status = "claimed" if owner else "open"
        elif e.kind == "resolved":
            status = "resolved"
        elif e.kind == "reopened":
            status = "claimed" if owner else "open"
    if not status:
        raise ValueError("no 'opened' event: not a ticket's history")
    return TicketState(status=status, owner_id=owner, level=level)


@dataclass(frozen=True)
class TicketView:
    """A ticket as a queue shows it; deadlines are the running clocks' (None while paused)."""

    id: int
    number: int
    seller_id: str
    seller_name: str
    level: int
    category: str
    status: str
    owner_id: str | None
    summary: str
    language: str
    created_at: datetime
    deadlines: dict[str, str | None] = field(default_factory=dict)
    next_deadline: datetime | None = None
    channel_id: str = ""
    thread_ts: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "seller_id": self.seller_id,
            "seller_name": self.seller_name,
            "level": self.level,
            "category": self.category,
            "status": self.status,
            "owner_id": self.owner_id,
            "summary": self.summary,
            "language": self.language,
            "created_at": self.created_at.isoformat(),
            "deadlines": dict(self.deadlines),
            "next_deadline": self.next_deadline.isoformat() if self.next_deadline else None,
            "channel_id": self.channel_id,
            "thread_ts": self.thread_ts,
        }


def list_tickets(
    session: Session,
    *,
    status: str | None = None,
    owner_id: str | None = None,
    seller_ids: Iterable[str] | None = None,
    limit: int | None = None,
) -> list[TicketView]:
    """Tickets by nearest pending deadline (those without one last, then by number).
    `status=None` is the live queue (every ticket not resolved); "all" is every ticket."""
    if status is not None and status != "all" and status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)} or 'all'")
    nearest = (
        select(SlaClock.ticket_id, func.min(SlaClock.deadline_at).label("due"))
        .where(SlaClock.status == "running")
        .group_by(SlaClock.ticket_id)
        .subquery()
    )
    query = (
        select(Ticket, Seller.name, nearest.c.due)
        .join(Seller, Seller.seller_id == Ticket.seller_id)
        .outerjoin(nearest, nearest.c.ticket_id == Ticket.id)
    )
    if status is None:
        query = query.where(Ticket.status != "resolved")
    elif status != "all":
        query = query.where(Ticket.status == status)
    if owner_id is not None:
        query = query.where(Ticket.owner_id == owner_id)
    if seller_ids is not None:
        query = query.where(Ticket.seller_id.in_(list(seller_ids)))
    query = query.order_by(nearest.c.due.is_(None), nearest.c.due, Ticket.number)
    if limit is not None:
        query = query.limit(limit)
    rows = list(session.execute(query))
    deadlines = _running_deadlines(session, [t.id for t, _, _ in rows])
    return [
        TicketView(
            id=t.id,
            number=t.number,
            seller_id=t.seller_id,
            seller_name=name,
            level=t.level,
            category=t.category,
            status=t.status,
            owner_id=t.owner_id,
            summary=t.summary,
            language=t.language,
            created_at=t.created_at,
            deadlines=deadlines.get(t.id, dict.fromkeys(TARGET_NAMES)),
            next_deadline=due,
            channel_id=t.channel_id,
            thread_ts=t.thread_ts,
        )
        for t, name, due in rows
    ]


def _running_deadlines(session: Session, ticket_ids: list[int]) -> dict[int, dict[str, str | None]]:
    out: dict[int, dict[str, str | None]] = {}
    for i in range(0, len(ticket_ids), 500):
        chunk = ticket_ids[i : i + 500]
        query = select(SlaClock.ticket_id, SlaClock.target, SlaClock.deadline_at).where(
            SlaClock.ticket_id.in_(chunk), SlaClock.status == "running"
        )
        for ticket_id, target, deadline in session.execute(query):
            per = out.setdefault(ticket_id, dict.fromkeys(TARGET_NAMES))
            per[target] = deadline.isoformat() if deadline is not None else None
    return out
