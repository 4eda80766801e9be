"""Tickets on Slack: what to post when a ticket opens or moves, and whom to tell.

`notify_*` functions queue Slack calls in the caller's transaction (the caller wakes the
outbox after commit); `facts_of` reads what the cards show. Domain changes are routing's
`tickets.do_*`; nothing here decides a ticket's state.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import ticket_blocks
from bot.blocks import Message
from bot.listeners.deps import Deps
from bot.ticket_blocks import TicketFacts
from routing import escalation, tickets
from routing.calendars import humanize_deadline
from routing.models import Seller, Ticket

logger = logging.getLogger(__name__)


def thread_key(channel_id: str, thread_ts: str) -> str:
    """The outbox ordering key: one Slack thread's calls are delivered in order."""
    return f"{channel_id}:{thread_ts}"


triage_key = escalation.triage_key  # the triage card's calls go out in order


def _language(language: str) -> Any:
    return "fr" if language == "fr" else "en"


def due_words(deps: Deps, deadline: datetime | None, *, now: datetime, language: str) -> str | None:
    if deadline is None:
        return None
    return humanize_deadline(
        deadline, now_utc=now, language=_language(language), tz=deps.helpdesk_timezone
    )


def running_deadline(session: Session, ticket: Ticket, target: str) -> datetime | None:
    for clock in tickets.clocks_of(session, ticket_id=ticket.id):
        if clock.target == target and clock.status == "running":
            return clock.deadline_at
    return None


def facts_of(
    deps: Deps, session: Session, ticket: Ticket, *, now: datetime, language: str | None = None
) -> TicketFacts:
    """The ticket as the cards show it; deadlines in words in `language` (default: staff's)."""
    seller = session.get(Seller, ticket.seller_id)
    due = running_deadline(session, ticket, "first_response")
    return TicketFacts(
        id=ticket.id,
        number=ticket.number,
        level=ticket.level,
        status=ticket.status,
        category=ticket.category,
        seller_name=seller.name if seller else ticket.seller_id,
        summary=ticket.summary,
        language=ticket.language,
        owner_id=ticket.owner_id,
        reasons=tuple(ticket.reasons or ()),
        first_response_due=due_words(deps, due, now=now, language=language or deps.staff_language),
        first_response_given=ticket.first_response_at is not None,
    )


def dm(deps: Deps, session: Session, *, user_id: str, message: Message, now: datetime) -> None:
    """A direct message: posting to a user id lands in their DM with the app (chat:write only)."""
    escalation.post(
        session, channel=user_id, message=message, key=escalation.dm_key(user_id), now=now
    )


def ephemeral(
    deps: Deps, session: Session, *, channel: str, user_id: str, message: Message, now: datetime
) -> None:
    deps.outbox.enqueue(
        session,
        method="chat.postEphemeral",
        payload={"channel": channel, "user": user_id, **message},
        ordering_key=f"eph:{user_id}",
        now=now,
    )


def notify_ticket_opened(deps: Deps, session: Session, ticket: Ticket, *, now: datetime) -> None:
    """The seller's card in their thread, the triage card, and for Level 3 the people at once."""
    seller_facts = facts_of(deps, session, ticket, now=now, language=ticket.language)
    due = seller_facts.first_response_due or due_words(deps, now, now=now, language=ticket.language)
    escalation.post(
        session,
        channel=ticket.channel_id,
        thread_ts=ticket.thread_ts,
        message=ticket_blocks.seller_card(seller_facts, due=due or ""),
        key=thread_key(ticket.channel_id, ticket.thread_ts),
        now=now,
    )
    facts = facts_of(deps, session, ticket, now=now)
    if deps.triage_channel:
        escalation.post(
            session,
            channel=deps.triage_channel,
            message=ticket_blocks.triage_card(facts, staff_language=deps.staff_language),
            key=triage_key(ticket.id),
            now=now,
        )
    else:
        logger.warning("ticket #%s opened but no triage channel is set", ticket.number)
    if ticket.level == 3:
        notify_level3(deps, session, ticket, facts, now=now)


def notify_level3(
    deps: Deps, session: Session, ticket: Ticket, facts: TicketFacts, *, now: datetime
) -> None:
    """Tell the people of a Level 3 at once: whom is routing.escalation's decision (the
    account manager by DM, the leads tagged in triage; no account manager on file, the leads
    get the DM and the gap is said and recorded); the messages are rendered here."""

    def triage_post(notice: escalation.Level3Notice) -> Message:
        return ticket_blocks.level3_post(
            facts,
            leads=notice.leads,
            account_manager_id=notice.account_manager_id,
            staff_language=deps.staff_language,
        )

    notice = escalation.escalate_level3(
        session,
        ticket,
        now=now,
        dm=ticket_blocks.level3_dm(facts, staff_language=deps.staff_language),
        triage_channel=deps.triage_channel,
        triage_post=triage_post,
    )
    if notice.account_manager_id is None:
        logger.warning(
            "level 3 ticket #%s: seller %s has no account manager", ticket.number, ticket.seller_id
        )


def notify_card_changed(
    deps: Deps, session: Session, ticket: Ticket, *, now: datetime, message_ts: str | None = None
) -> None:
    """Re-render the triage card in place. Its ts comes from the click (`message_ts`) or from
    the ticket; a card not yet delivered is brought up to date when it is (`on_card_sent`)."""
    ts = message_ts or ticket.triage_ts
    channel = ticket.triage_channel or deps.triage_channel
    if not ts or not channel:
        return
    facts = facts_of(deps, session, ticket, now=now)
    deps.outbox.enqueue(
        session,
        method="chat.update",
        payload={
            "channel": channel,
            "ts": ts,
            **ticket_blocks.triage_card(facts, staff_language=deps.staff_language),
        },
        ordering_key=triage_key(ticket.id),
        now=now,
    )


def on_card_sent(
    deps: Deps, session: Session, method: str, payload: dict[str, Any], result: dict[str, Any]
) -> None:
    """Outbox hook, after Slack took a call: remember where a ticket's card landed. A triage
    card whose ticket moved while the card was in the queue is updated at once."""
    metadata = payload.get("metadata") or {}
    if method != "chat.postMessage" or metadata.get("event_type") != ticket_blocks.CARD_EVENT:
        return
    info = metadata.get("event_payload") or {}
    ticket_id, card, ts = info.get("ticket_id"), info.get("card"), result.get("ts")
    if not isinstance(ticket_id, int) or not ts:
        return
    now = deps.clock()
    if card == ticket_blocks.SELLER_CARD:
        tickets.do_link_slack(session, ticket_id=ticket_id, now=now, seller_card_ts=str(ts))
        return
    channel = str(result.get("channel") or payload.get("channel"))
    ticket = tickets.do_link_slack(
        session, ticket_id=ticket_id, now=now, triage_channel=channel, triage_ts=str(ts)
    )
    current = ticket_blocks.triage_card(
        facts_of(deps, session, ticket, now=now), staff_language=deps.staff_language
    )
    if current["blocks"] != payload.get("blocks"):
        notify_card_changed(deps, session, ticket, now=now)
