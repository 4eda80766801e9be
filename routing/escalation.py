"""Who is told when a ticket needs people: a Level 3 opening, an SLA warning or breach.

The decision lives here, once, for every caller: the listeners (a Level 3 opened or
re-levelled), the worker's minute sweep and `comptoir sla sweep` by hand. Each decision is
recorded as a ticket event naming the people told, and their Slack messages are queued in
the outbox (routing.outbox_store) in the caller's transaction: an alert is fired, recorded
and queued in one unit, so whichever process fired it, the outbox delivers it once.

What the messages say is the caller's (bot.ticket_blocks renders them): a Level 3 passes its
rendered DM and a renderer for the triage post (which names whom it tagged), a sweep passes
a renderer of an alert. Nothing here reads a configuration: the policy comes in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from routing import outbox_store, sla_clocks, staff
from routing.models import Seller, Ticket, TicketEvent
from routing.sla_clocks import SlaAlert
from routing.sla_policy import SlaPolicy
from routing.ticket_base import do_record_event

Message = dict[str, Any]  # a rendered Slack message: {"text": ..., "blocks": [...]}


def dm_key(user_id: str) -> str:
    """The outbox ordering key of one person's DMs: they arrive in the order queued."""
    return f"dm:{user_id}"


def triage_key(ticket_id: int) -> str:
    """The triage card's calls (post, updates, its thread) go out in order."""
    return f"triage:{ticket_id}"


def post(
    session: Session,
    *,
    channel: str,
    message: Message,
    key: str,
    now: datetime,
    thread_ts: str | None = None,
) -> int:
    """Queue one chat.postMessage (a user id as channel lands in their DM with the app)."""
    payload: dict[str, Any] = {"channel": channel, "unfurl_links": False, **message}
    if thread_ts:
        payload["thread_ts"] = thread_ts
    return outbox_store.enqueue(
        session, method="chat.postMessage", payload=payload, ordering_key=key, now=now
    )


# ---- a Level 3 opens (or a ticket is re-levelled to 3) -----------------------------------


@dataclass(frozen=True)
class Level3Notice:
    """Who hears of a Level 3 at once: the seller's account manager by DM (the leads instead
    when none is on file, a gap said in triage and recorded); the leads are tagged in triage."""

    dm_to: list[str]
    leads: list[str]
    account_manager_id: str | None


def level3_notice(session: Session, ticket: Ticket) -> Level3Notice:
    seller = session.get(Seller, ticket.seller_id)
    account_manager = seller.account_manager_id if seller else None
    leads = staff.leads(session)
    return Level3Notice(
        dm_to=[account_manager] if account_manager else leads,
        leads=leads,
        account_manager_id=account_manager,
    )


def escalate_level3(
    session: Session,
    ticket: Ticket,
    *,
    now: datetime,
    dm: Message,
    triage_channel: str | None,
    triage_post: Callable[[Level3Notice], Message],
) -> Level3Notice:
    """Tell the people of a Level 3 (`level3_notice`): queue the DMs and the triage post,
    and record whom ("escalated", plus "escalation_gap" when no account manager is on file)."""
    notice = level3_notice(session, ticket)
    for user_id in notice.dm_to:
        post(session, channel=user_id, message=dm, key=dm_key(user_id), now=now)
    if triage_channel:
        post(
            session,
            channel=triage_channel,
            message=triage_post(notice),
            key=triage_key(ticket.id),
            now=now,
        )
    do_record_event(
        session,
        ticket_id=ticket.id,
        kind="escalated",
        now=now,
        data={"to": notice.dm_to, "leads": notice.leads, "level": 3, "triage": triage_channel},
    )
    if notice.account_manager_id is None:
        do_record_event(
            session,
            ticket_id=ticket.id,
            kind="escalation_gap",
            now=now,
            data={"missing": "account_manager", "instead": notice.leads},
        )
    return notice


# ---- SLA warnings and breaches ---------------------------------------------------------


def sla_recipients(session: Session, alert: SlaAlert) -> list[str]:
    """Whom to DM: the policy's escalation roles as people (an account manager missing → the
    leads), plus the ticket's owner, who should hear first. Each person once, in that order.
    A warning has no roles: only its owner hears of it (and the card's thread)."""
    people: list[str] = []
    for role in alert.escalate_to:
        if role == "helpdesk_lead":
            people += staff.leads(session)
        elif role == "account_manager":
            people += (
                [alert.account_manager_id] if alert.account_manager_id else staff.leads(session)
            )
        elif role == "head_of_marketplace":
            people += staff.heads(session)
    if alert.owner_id:
        people.insert(0, alert.owner_id)
    return list(dict.fromkeys(people))


def sweep(
    session: Session,
    *,
    now: datetime,
    policy: SlaPolicy,
    render: Callable[[SlaAlert], Message],
    triage_channel: str | None,
    queued_at: datetime,
    limit: int | None = None,
) -> list[SlaAlert]:
    """Fire what is due at `now` (routing.sla_clocks.sweep: each alert once, whoever sweeps)
    and tell each alert's people: the card's thread in triage, and DMs along the policy's
    chain (`sla_recipients`). Recorded as an event per alert naming who was told ("escalated"
    for a breach, "notified" for a warning). The messages are queued at `queued_at` (the wall
    clock: `now` may be a test's or a catch-up's instant). Does not commit.

    The events are inserted as rows, without taking the ticket's lock: the sweep holds its
    clocks' locks, and a staff action takes the ticket's before its clocks' (a deadlock
    otherwise, on PostgreSQL)."""
    alerts = sla_clocks.sweep(session, now=now, policy=policy, limit=limit)
    events: list[dict[str, Any]] = []
    for alert in alerts:
        events += _tell(
            session, alert, render=render, triage_channel=triage_channel, queued_at=queued_at
        )
    if events:
        session.execute(insert(TicketEvent), events)
    return alerts


def _tell(
    session: Session,
    alert: SlaAlert,
    *,
    render: Callable[[SlaAlert], Message],
    triage_channel: str | None,
    queued_at: datetime,
) -> list[dict[str, Any]]:
    """Queue the alert's messages; returns the events that say whom they went to."""
    message = render(alert)
    ticket = session.get(Ticket, alert.ticket_id)
    # the card's own channel when it was posted (the setting may have changed since)
    channel = (ticket.triage_channel if ticket else None) or triage_channel
    if channel:
        post(
            session,
            channel=channel,
            message=message,
            key=triage_key(alert.ticket_id),
            now=queued_at,
            thread_ts=ticket.triage_ts if ticket is not None else None,  # the card's thread
        )
    told = sla_recipients(session, alert)
    for user_id in told:
        post(session, channel=user_id, message=message, key=dm_key(user_id), now=queued_at)
    data: dict[str, Any] = {"target": alert.target, "to": told, "triage": channel}
    if alert.kind == "breach":
        data |= {"chain": alert.escalate_to, "account_manager_id": alert.account_manager_id}
    at = alert.fired_at or queued_at
    kind = "escalated" if alert.kind == "breach" else "notified"
    events = [sla_clocks.event_row(alert.ticket_id, at, kind, data)]
    if "account_manager" in alert.escalate_to and alert.account_manager_id is None:
        gap = {"target": alert.target, "missing": "account_manager"}
        events.append(sla_clocks.event_row(alert.ticket_id, at, "escalation_gap", gap))
    return events
