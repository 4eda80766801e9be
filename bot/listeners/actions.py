"""The two buttons under an answer: "Resolved" and "I need a human" (which opens a ticket)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot import blocks
from bot.listeners.answering import thread_key
from bot.listeners.deps import Deps
from bot.listeners.intake import QUESTION, classify, open_for_human
from bot.listeners.parsing import Click, parse_click
from routing import conversations
from routing.db import transaction

logger = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    def on_click(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        kind = blocks.FEEDBACK_KINDS[action["action_id"]]
        click = parse_click(body, kind)
        if click is None:
            # a forged or broken button: nothing to do, and nothing the database must see
            logger.warning("feedback click without a question id: %.40r", action.get("value"))
            return
        do_record_click(deps, click)

    for action_id in blocks.FEEDBACK_KINDS:
        app.action(action_id)(on_click)


def do_record_click(deps: Deps, click: Click) -> None:
    """Keep the click once; show it on the answer, and promise a human for a hand-off."""
    with transaction(deps.session_factory) as session:
        question = conversations.get_question(session, question_id=click.question_id)
        if question is None or question.channel_id != click.channel_id:
            # a button only ever comes from our own answer in that channel
            logger.warning(
                "click on question %s from channel %s ignored", click.question_id, click.channel_id
            )
            return
        # judged before anything is written; the hand-off ticket takes the classifier's
        # level when it is above 1 (a "how do I…" that hid a suspended account)
        judged = classify(deps, question.text) if click.kind == "human" else None
        if not conversations.do_record_feedback(
            session,
            question_id=question.id,
            kind=click.kind,
            user_id=click.user_id,
            now=deps.clock(),
        ):
            logger.info("click %s on question %s already recorded", click.kind, question.id)
            return
        seller = conversations.seller_of_question(session, question=question)
        ui_language = seller.language if seller else question.language
        card = blocks.AnswerCard(
            question_id=question.id,
            answered=question.answered,
            text=question.answer_text or "",
            language=question.language,
            ui_language=ui_language,
            citations=question.citations,
        )
        key = thread_key(question.channel_id, question.thread_ts)
        if click.message_ts:
            deps.outbox.enqueue(
                session,
                method="chat.update",
                payload={
                    "channel": question.channel_id,
                    "ts": click.message_ts,
                    **blocks.answered_with_feedback(card, kind=click.kind),
                },
                ordering_key=key,
                now=deps.clock(),
            )
        if click.kind == "human":
            # the ticket card is the hand-off: number, level, when a human answers
            opened = open_for_human(
                deps, session, question, judged or QUESTION, actor_id=click.user_id
            )
            if opened is None:  # the thread already has its ticket: say a human comes
                deps.outbox.enqueue(
                    session,
                    method="chat.postMessage",
                    payload={
                        "channel": question.channel_id,
                        "thread_ts": question.thread_ts,
                        **blocks.handoff_message(ui_language),
                    },
                    ordering_key=key,
                    now=deps.clock(),
                )
    deps.outbox.wake()
