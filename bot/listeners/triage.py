"""The triage card's buttons (Claim, Change level, Waiting on seller, Resolve) and the seller's
answer to "is it solved?".

Only staff act on a ticket; anyone else is told privately and nothing changes. Each click is
kept once by its (user, action, action_ts): a delivery seen twice changes nothing twice.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from sqlalchemy.orm import Session

from bot import ticket_blocks
from bot.listeners.deps import Deps
from bot.listeners.parsing import TicketAction, parse_ticket_action
from bot.listeners.ticketing import (
    ephemeral,
    facts_of,
    notify_card_changed,
    notify_level3,
    thread_key,
)
from routing import conversations, staff, tickets
from routing.db import transaction
from routing.models import Ticket

logger = logging.getLogger(__name__)

ACTION_EVENT = "block_actions"


def register(app: App, deps: Deps) -> None:
    def on_triage(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        action = parse_ticket_action(body)
        if action is None:
            logger.warning("ticket action without a usable ticket id: %.200r", body.get("actions"))
            return
        do_triage_action(deps, action)

    def on_satisfaction(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        action = parse_ticket_action(body)
        if action is None:
            logger.warning("satisfaction click without a ticket id: %.200r", body.get("actions"))
            return
        do_satisfaction(deps, action)

    for action_id in ticket_blocks.TRIAGE_ACTIONS:
        app.action(action_id)(on_triage)
    for action_id in ticket_blocks.SATISFACTION_ACTIONS:
        app.action(action_id)(on_satisfaction)


def _first_delivery(deps: Deps, session: Session, action: TicketAction) -> bool:
    return conversations.do_record_event(
        session,
        event_id=action.delivery_id,
        event_type=ACTION_EVENT,
        channel_id=action.channel_id,
        payload={"action_id": action.action_id, "ticket_id": action.ticket_id},
        now=deps.clock(),
        status="action",
    )


def do_triage_action(deps: Deps, action: TicketAction) -> None:
    now = deps.clock()
    lang = deps.staff_language

    def tell(session: Session, key: str, **values: object) -> None:
        ephemeral(
            deps,
            session,
            channel=action.channel_id,
            user_id=action.user_id,
            message=ticket_blocks.ephemeral(key, lang, **values),
            now=now,
        )

    group = deps.staff_members()  # before the transaction: it may ask Slack
    with transaction(deps.session_factory) as session:
        if not _first_delivery(deps, session, action):
            logger.info("action %s delivered again; ignored", action.delivery_id)
            return
        ticket = session.get(Ticket, action.ticket_id)
        if ticket is None or action.channel_id not in {ticket.triage_channel, deps.triage_channel}:
            # buttons only ever come from the ticket's own card in the triage channel
            logger.warning(
                "action on ticket %s from %s ignored", action.ticket_id, action.channel_id
            )
            return
        if not staff.is_staff(session, user_id=action.user_id, usergroup_members=group):
            logger.info("%s is not staff: %s refused", action.user_id, action.action_id)
            tell(session, "staff.refused")
            return
        try:
            changed = _apply(deps, session, action, ticket, tell)
        except tickets.TicketError as exc:
            tell(session, "staff.not_now", number=ticket.number, reason=str(exc))
            return
        if changed:
            notify_card_changed(deps, session, ticket, now=now, message_ts=action.message_ts)
    deps.outbox.wake()


def _apply(deps: Deps, session: Session, action: TicketAction, ticket: Ticket, tell: Any) -> bool:
    """Do what the button says; False when nothing changed (the card stays as it is)."""
    now = deps.clock()
    if action.action_id == ticket_blocks.ACTION_CLAIM:
        before = ticket.owner_id
        result = tickets.do_claim(session, ticket_id=ticket.id, user_id=action.user_id, now=now)
        if not result.won:
            from bot.ticket_blocks import mention

            tell(session, "staff.claimed_by", owner=mention(result.owner_id))
            return False
        return before != action.user_id
    if action.action_id == ticket_blocks.ACTION_RELEVEL:
        assert action.level is not None
        before_level = ticket.level
        ticket = tickets.do_relevel(
            session,
            ticket_id=ticket.id,
            level=action.level,
            user_id=action.user_id,
            now=now,
            policy=deps.policy,
        )
        if ticket.level == before_level:
            return False
        if ticket.level == 3:
            notify_level3(deps, session, ticket, facts_of(deps, session, ticket, now=now), now=now)
        return True
    if action.action_id == ticket_blocks.ACTION_WAIT:
        before_status = ticket.status
        tickets.do_wait_on_seller(
            session, ticket_id=ticket.id, user_id=action.user_id, now=now, policy=deps.policy
        )
        return before_status != "waiting_on_seller"
    if action.action_id == ticket_blocks.ACTION_RESOLVE:
        if ticket.status == "resolved":
            return False
        ticket = tickets.do_resolve(
            session, ticket_id=ticket.id, user_id=action.user_id, now=now, policy=deps.policy
        )
        _ask_seller(deps, session, ticket)
        return True
    logger.warning("unknown ticket action %s", action.action_id)
    return False


def _ask_seller(deps: Deps, session: Session, ticket: Ticket) -> None:
    """In the seller's thread, in their language: is it solved? (yes closes, no reopens)."""
    now = deps.clock()
    facts = facts_of(deps, session, ticket, now=now, language=ticket.language)
    deps.outbox.enqueue(
        session,
        method="chat.postMessage",
        payload={
            "channel": ticket.channel_id,
            "thread_ts": ticket.thread_ts,
            **ticket_blocks.satisfaction_question(facts),
        },
        ordering_key=thread_key(ticket.channel_id, ticket.thread_ts),
        now=now,
    )


def do_satisfaction(deps: Deps, action: TicketAction) -> None:
    """The seller's yes or no, once per resolution; "no" reopens the ticket."""
    now = deps.clock()
    solved = ticket_blocks.SATISFACTION_ACTIONS[action.action_id]
    with transaction(deps.session_factory) as session:
        if not _first_delivery(deps, session, action):
            return
        ticket = session.get(Ticket, action.ticket_id)
        if ticket is None or ticket.channel_id != action.channel_id:
            logger.warning(
                "satisfaction on ticket %s from %s ignored", action.ticket_id, action.channel_id
            )
            return
        if ticket.satisfaction is not None or ticket.status != "resolved":
            logger.info("ticket #%s: satisfaction already given", ticket.number)
            return
        ticket = tickets.do_record_satisfaction(
            session,
            ticket_id=ticket.id,
            solved=solved,
            user_id=action.user_id,
            now=now,
            policy=deps.policy,
        )
        facts = facts_of(deps, session, ticket, now=now, language=ticket.language)
        if action.message_ts:
            deps.outbox.enqueue(
                session,
                method="chat.update",
                payload={
                    "channel": ticket.channel_id,
                    "ts": action.message_ts,
                    **ticket_blocks.satisfaction_answered(facts, solved=solved),
                },
                ordering_key=thread_key(ticket.channel_id, ticket.thread_ts),
                now=now,
            )
        notify_card_changed(deps, session, ticket, now=now)
    deps.outbox.wake()
