"""A seller's message the worker failed on at every attempt: the seller is told, never silence.

The inbox worker (bot.inbox) calls `do_give_up` before it marks a delivery failed for good.
The seller reads in the thread, in their language, that something broke and that a person
will answer, and a ticket opens for the help desk, as when the bot cannot answer
(bot.listeners.intake.open_for_human). Whatever the failed attempts left behind is used: the
question they claimed, or a new one when they failed before recording anything.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.listeners import answering, intake
from bot.listeners.deps import Deps
from bot.listeners.parsing import Ignored, parse_message
from routing import conversations, staff
from routing.db import transaction
from routing.ticket_queries import ticket_for_thread

logger = logging.getLogger(__name__)


def do_give_up(deps: Deps, body: dict[str, Any], error: str) -> None:
    """Tell the seller a person will answer and open the ticket, unless the message was
    already decided (answered, told, a staff message, a thank-you...): then nothing."""
    parsed = parse_message(body)
    if isinstance(parsed, Ignored):
        return  # housekeeping: nobody waits for an answer
    message = parsed
    judged = intake.classify(deps, message.question_text)  # it fails to a question, logged
    try:
        group = deps.staff_members() if message.user_id else frozenset[str]()
    except Exception:
        logger.exception("staff user group unavailable; judging %s without it", message.event_id)
        group = frozenset()
    with transaction(deps.session_factory) as session:
        author_is_staff = bool(message.user_id) and staff.is_staff(
            session, user_id=str(message.user_id), usergroup_members=group
        )
        in_ticket = bool(message.thread_ts) and (
            ticket_for_thread(
                session, channel_id=message.channel_id, thread_ts=str(message.thread_ts)
            )
            is not None
        )
        taken = conversations.do_take_message(
            session,
            message=message,
            now=deps.clock(),
            author_is_staff=author_is_staff,
            ticket_thread=in_ticket,
        )
        if taken.question is None or taken.seller is None:
            logger.info(
                "inbox %s failed for good; no seller question to hand over (%s)",
                message.event_id,
                taken.status,
            )
            return
        answering.hand_over(
            deps,
            session,
            message,
            taken.question,
            ui_language=taken.seller.language,
            error=error,
            on_no_answer=lambda s, question: intake.open_for_human(
                deps, s, question, judged, actor_id=None
            ),
        )
    deps.outbox.wake()
