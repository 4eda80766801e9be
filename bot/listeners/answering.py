"""A seller's message, from delivery to answer; the Slack calls go out through the outbox.

Two short transactions around the (slow) answer: the first records the delivery, claims the
question and queues the "working" reaction; the second stores the answer and queues it. The
answerer runs with no transaction open, so a slow model never holds a database lock.

In the inbox worker both commit only if the worker's claim on the delivery still holds (the
claim is checked last in each, routing.db.fenced): a worker that froze mid-answer and lost
its claim to another records and posts nothing, and the one that took over answers, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from bot import blocks
from bot.listeners.deps import Deps
from bot.listeners.parsing import Ignored
from bot.listeners.ticketing import thread_key
from knowledge.types import Answer, EmptyIndexError, Turn
from routing import conversations
from routing.conversations import IncomingMessage, Intake
from routing.db import transaction
from routing.models import Question

logger = logging.getLogger(__name__)


def do_ignore(deps: Deps, ignored: Ignored) -> None:
    if not ignored.event_id:
        return
    with transaction(deps.session_factory) as session:
        conversations.do_record_event(
            session,
            event_id=ignored.event_id,
            event_type=ignored.event_type,
            channel_id=ignored.channel_id,
            payload={},  # housekeeping events are not kept; the reason is
            now=deps.clock(),
            status=conversations.IGNORED,
            note=ignored.reason,
        )
    logger.debug("ignored event %s: %s", ignored.event_id, ignored.reason)


def do_answer_message(deps: Deps, message: IncomingMessage) -> None:
    """The message as a plain question: claim it, answer it (no classification, no ticket)."""
    intake = take_message(deps, message)
    if intake.question is not None and intake.seller is not None:
        answer_question(deps, message, intake)


def take_message(
    deps: Deps,
    message: IncomingMessage,
    *,
    author_is_staff: bool = False,
    ticket_thread: bool = False,
) -> Intake:
    """Record the delivery and, for a question, claim it and show the working reaction."""
    key = thread_key(message.channel_id, message.root_ts)
    with transaction(deps.session_factory) as session:
        intake = conversations.do_take_message(
            session,
            message=message,
            now=deps.clock(),
            author_is_staff=author_is_staff,
            ticket_thread=ticket_thread,
        )
        if intake.question is not None and not intake.resumed:
            deps.outbox.enqueue(
                session,
                method="reactions.add",
                payload={
                    "channel": message.channel_id,
                    "timestamp": message.ts,
                    "name": deps.working_reaction,
                },
                ordering_key=key,
                now=deps.clock(),
            )
    if intake.question is None or intake.seller is None:
        if intake.status == conversations.UNKNOWN_CHANNEL:
            logger.info("no answer in %s: %s", message.channel_id, intake.note)
        else:
            logger.debug("no answer to %s: %s (%s)", message.event_id, intake.status, intake.note)
    else:
        deps.outbox.wake()
    return intake


def run_answerer(deps: Deps, message: IncomingMessage, intake: Intake) -> Answer:
    """The answerer, with no transaction open (a slow model never holds a lock); raises."""
    history = [Turn(question=q, answer=a) for q, a in intake.history]
    return deps.answerer.answer(message.question_text, history=history)


def answer_question(
    deps: Deps,
    message: IncomingMessage,
    intake: Intake,
    *,
    on_no_answer: Callable[[Session, Question], object] | None = None,
) -> Answer | None:
    """Answer in the thread: text, sources, buttons; or an honest abstention. `on_no_answer`
    runs in the transaction that posts an abstention or an apology (a human is promised)."""
    assert intake.question is not None and intake.seller is not None
    key = thread_key(message.channel_id, message.root_ts)
    question = intake.question
    ui_language = intake.seller.language
    try:
        answer = run_answerer(deps, message, intake)
    except Exception as exc:
        # an empty index is the operator's to fix (the worker said so at start): one line
        logger.error(
            "answering question %s failed: %s",
            question.id,
            exc,
            exc_info=not isinstance(exc, EmptyIndexError),
        )
        with transaction(deps.session_factory) as session:
            hand_over(
                deps,
                session,
                message,
                question,
                ui_language=ui_language,
                error=f"{type(exc).__name__}: {exc}",
                on_no_answer=on_no_answer,
            )
        deps.outbox.wake()
        return None

    citations = citations_of(answer)
    card = blocks.AnswerCard(
        question_id=question.id,
        answered=answer.answered,
        text=answer.text,
        language=answer.language,
        ui_language=ui_language,
        citations=citations,
    )
    with transaction(deps.session_factory) as session:
        record_answer(deps, session, message, question.id, answer)
        _queue_reply(deps, session, message, key, blocks.answer_message(card))
        if not answer.answered and on_no_answer is not None:
            on_no_answer(session, question)
    deps.outbox.wake()
    return answer


def record_answer(
    deps: Deps, session: Session, message: IncomingMessage, question_id: int, answer: Answer
) -> None:
    conversations.do_record_answer(
        session,
        question_id=question_id,
        event_id=message.event_id,
        answered=answer.answered,
        language=answer.language,
        text=answer.text,
        confidence=answer.confidence,
        citations=citations_of(answer),
        mode=answer.mode,
        now=deps.clock(),
    )


def citations_of(answer: Answer) -> list[dict[str, Any]]:
    return [asdict(c) for c in answer.citations] if answer.answered else []


def _queue_reply(
    deps: Deps,
    session: Session,
    message: IncomingMessage,
    key: str,
    reply: blocks.Message | None,
) -> None:
    """The reply (if any) in the thread, then the working reaction taken away."""
    now = deps.clock()
    if reply is not None:
        deps.outbox.enqueue(
            session,
            method="chat.postMessage",
            payload={
                "channel": message.channel_id,
                "thread_ts": message.root_ts,
                "unfurl_links": False,
                **reply,
            },
            ordering_key=key,
            now=now,
        )
    deps.outbox.enqueue(
        session,
        method="reactions.remove",
        payload={
            "channel": message.channel_id,
            "timestamp": message.ts,
            "name": deps.working_reaction,
        },
        ordering_key=key,
        now=now,
    )


def hand_over(
    deps: Deps,
    session: Session,
    message: IncomingMessage,
    question: Question,
    *,
    ui_language: str,
    error: str,
    on_no_answer: Callable[[Session, Question], object] | None,
) -> None:
    """The seller hears that something broke and that a human takes over (`on_no_answer`
    opens the ticket); the error is kept. In the caller's transaction; wake the outbox after."""
    conversations.do_record_failure(
        session, question_id=question.id, event_id=message.event_id, error=error
    )
    queue_reply(deps, session, message, blocks.error_message(ui_language))
    if on_no_answer is not None:
        on_no_answer(session, question)


def queue_reply(
    deps: Deps,
    session: Session,
    message: IncomingMessage,
    reply: blocks.Message | None,
) -> None:
    _queue_reply(deps, session, message, thread_key(message.channel_id, message.root_ts), reply)
