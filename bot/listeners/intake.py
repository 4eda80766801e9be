"""Every seller message judged: a question goes to the answer flow, a problem opens a ticket at
once; a reply in a ticket's thread moves the ticket; a staff reply there is the response.

    message ─┬─ staff wrote ──────────── ticket in thread? → do_staff_replied, card updated
             ├─ ticket in thread ─────── do_seller_replied, card updated (no bot answer)
             └─ otherwise: classify ─┬─ question → answer (abstention/failure → Level 1+ ticket)
                                     └─ problem  → ticket + cards now, then the guideline passage

The classifier and the answerer read only the first `deps.max_message_chars` characters of a
message (and of the thread's earlier questions): their cost grows with the text, and one
40,000-character message must not keep every other seller waiting. The whole text is stored;
the seller is told in the thread, before the answer, that only the start was read.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy.orm import Session

from bot import blocks, messages, ticket_blocks
from bot.listeners import answering
from bot.listeners.deps import Deps
from bot.listeners.parsing import cut_text, read_part
from bot.listeners.ticketing import notify_card_changed, notify_ticket_opened, thread_key
from knowledge.types import EmptyIndexError
from routing import conversations, staff, tickets
from routing.classify import Classification
from routing.conversations import IncomingMessage, Intake
from routing.db import transaction
from routing.models import Question, Seller, Ticket

logger = logging.getLogger(__name__)

QUESTION = Classification(kind="question", level=1, category="other", confidence=0.0)


def do_take_seller_message(deps: Deps, message: IncomingMessage) -> None:
    group = deps.staff_members() if message.user_id else frozenset[str]()
    with deps.session_factory() as session:
        author_is_staff = bool(message.user_id) and staff.is_staff(
            session, user_id=str(message.user_id), usergroup_members=group
        )
        ticket = (
            tickets.ticket_for_thread(
                session, channel_id=message.channel_id, thread_ts=message.thread_ts
            )
            if message.thread_ts
            else None
        )
        ticket_id = ticket.id if ticket is not None else None
    intake = answering.take_message(
        deps, message, author_is_staff=author_is_staff, ticket_thread=ticket_id is not None
    )
    if intake.status == conversations.STAFF:
        if ticket_id is not None:
            do_staff_reply(deps, message, ticket_id)
        return
    if intake.status == conversations.TICKET_REPLY and ticket_id is not None:
        do_seller_reply(deps, message, ticket_id)
        return
    if intake.question is None or intake.seller is None:
        return
    # from here on the message is what the classifier and the answerer read: its start
    limit = deps.max_message_chars
    message, was_cut = read_part(message, limit)
    if was_cut and not intake.resumed:  # a resumed attempt said it already, like the reaction
        tell_only_start_read(deps, message, intake.seller.language, limit)
    intake = replace(intake, history=[(cut_text(q, limit), a) for q, a in intake.history])
    judged = classify(deps, message.question_text)
    if judged.kind == "problem":
        do_open_problem(deps, message, intake, judged)
    else:
        answering.answer_question(
            deps,
            message,
            intake,
            on_no_answer=lambda session, question: open_for_human(
                deps, session, question, judged, actor_id=None
            ),
        )


def classify(deps: Deps, text: str) -> Classification:
    """The classifier's judgement of the text's start (the only way to the classifier: the
    hand-off and a failed delivery judge the stored, whole text); a question when there is
    none or it fails (logged): the answer flow still promises a human when it cannot answer."""
    if deps.classifier is None:
        return QUESTION
    try:
        return deps.classifier.classify(cut_text(text, deps.max_message_chars))
    except Exception:
        logger.exception("classifying a message failed; treating it as a question")
        return QUESTION


def tell_only_start_read(deps: Deps, message: IncomingMessage, language: str, limit: int) -> None:
    """In the thread, in the seller's language, queued before the answer (same ordering key):
    only the first `limit` characters were read."""
    number = f"{limit:,}".replace(",", "\u00a0" if language == "fr" else ",")
    with transaction(deps.session_factory) as session:
        deps.outbox.enqueue(
            session,
            method="chat.postMessage",
            payload={
                "channel": message.channel_id,
                "thread_ts": message.root_ts,
                "text": messages.text("message.cut", language, limit=number),
            },
            ordering_key=thread_key(message.channel_id, message.root_ts),
            now=deps.clock(),
        )
    deps.outbox.wake()
    logger.info("event %s: only the first %s characters were read", message.event_id, limit)


def do_staff_reply(deps: Deps, message: IncomingMessage, ticket_id: int) -> None:
    now = deps.clock()
    with transaction(deps.session_factory) as session:
        ticket = tickets.do_staff_replied(
            session,
            ticket_id=ticket_id,
            user_id=str(message.user_id),
            now=now,
            policy=deps.policy,
            slack_ts=message.ts,
        )
        notify_card_changed(deps, session, ticket, now=now)
    deps.outbox.wake()


def do_seller_reply(deps: Deps, message: IncomingMessage, ticket_id: int) -> None:
    now = deps.clock()
    with transaction(deps.session_factory) as session:
        ticket = tickets.do_seller_replied(
            session,
            ticket_id=ticket_id,
            now=now,
            policy=deps.policy,
            slack_ts=message.ts,
            user_id=message.user_id,
        )
        notify_card_changed(deps, session, ticket, now=now)
    deps.outbox.wake()


def _open(
    deps: Deps,
    session: Session,
    *,
    seller: Seller,
    question: Question,
    kind: str,
    judged: Classification,
    level: int,
    actor_id: str | None,
) -> Ticket | None:
    """Open the thread's ticket and post its cards; None when the thread already had one."""
    now = deps.clock()
    if tickets.ticket_for_thread(
        session, channel_id=question.channel_id, thread_ts=question.thread_ts
    ):
        return None
    ticket = tickets.do_open_ticket(
        session,
        seller=seller,
        channel_id=question.channel_id,
        thread_ts=question.thread_ts,
        text=question.text,
        kind=kind,
        level=level,
        category=judged.category or "other",
        confidence=judged.confidence,
        reasons=list(judged.reasons),
        now=now,
        policy=deps.policy,
        question_id=question.id,
        actor_id=actor_id,
    )
    notify_ticket_opened(deps, session, ticket, now=now)
    return ticket


def open_for_human(
    deps: Deps,
    session: Session,
    question: Question,
    judged: Classification,
    *,
    actor_id: str | None,
) -> Ticket | None:
    """A question the bot could not settle ("I need a human", an abstention, a failure): a
    Level 1 ticket, or the classifier's level if higher."""
    seller = session.get(Seller, question.seller_id)
    if seller is None:
        return None
    return _open(
        deps,
        session,
        seller=seller,
        question=question,
        kind=judged.kind if judged.kind in ("question", "problem") else "question",
        judged=judged,
        level=max(1, judged.level),
        actor_id=actor_id,
    )


def do_open_problem(
    deps: Deps, message: IncomingMessage, intake: Intake, judged: Classification
) -> None:
    """A problem: the ticket and its cards first, so a slow answerer delays nobody; then the
    bot's best guideline passage under the card when it has a confident one."""
    assert intake.question is not None and intake.seller is not None
    with transaction(deps.session_factory) as session:
        question = session.get(Question, intake.question.id)
        assert question is not None
        _open(
            deps,
            session,
            seller=intake.seller,
            question=question,
            kind="problem",
            judged=judged,
            level=judged.level,
            actor_id=None,
        )
    deps.outbox.wake()
    reply: blocks.Message | None = None
    try:
        answer = answering.run_answerer(deps, message, intake)
    except Exception as exc:
        logger.error(
            "the guideline passage for question %s failed: %s",
            intake.question.id,
            exc,
            exc_info=not isinstance(exc, EmptyIndexError),
        )
        answer = None
    with transaction(deps.session_factory) as session:
        if answer is not None:
            answering.record_answer(deps, session, message, intake.question.id, answer)
            if answer.answered:
                reply = ticket_blocks.passage_message(
                    answer.text,
                    ui_language=intake.seller.language,
                    sources=[
                        blocks.source_line(i, c)
                        for i, c in enumerate(answering.citations_of(answer)[:3], start=1)
                    ],
                )
        conversations.mark_event(
            session,
            event_id=message.event_id,
            status=conversations.TICKET,
            note=None if answer is not None else "the guideline passage failed; see the log",
        )
        answering.queue_reply(deps, session, message, reply)
    deps.outbox.wake()
