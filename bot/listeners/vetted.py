""" "Save as an answer": a staff reply in a seller's thread becomes an answer for every seller.

    shortcut on a message ─ staff? ─ no ─▶ private refusal, nothing stored
                                  └ yes ─ a staff reply in a seller's question thread?
                                          └ yes ─▶ views.open: the question and the reply,
                                                   prefilled, with the warning
    modal submitted ─ private data left? ─ yes ─▶ the modal says which, beside the field
                    └ no ─▶ stored (routing.vetted_answers), indexed (knowledge.vetted),
                            a private "saved as #N"

Only staff may use it (the triage buttons' rule: routing.staff.is_staff). views.open is called
at once, not through the outbox: Slack's trigger_id lasts 3 seconds. The confirmation and the
refusals are posts, so they go through the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import messages, ticket_blocks, vetted_blocks
from bot.listeners.deps import Deps
from bot.listeners.ticketing import ephemeral
from bot.vetted_sync import entry_of
from knowledge.lang import detect_language
from routing import staff, vetted_answers
from routing.db import transaction
from routing.models import Question
from routing.sellers import seller_for_channel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shortcut:
    user_id: str
    channel_id: str
    trigger_id: str
    message_ts: str
    thread_ts: str | None
    author_id: str | None
    text: str


def parse_shortcut(body: dict[str, Any]) -> Shortcut | None:
    message = body.get("message") or {}
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id")
    trigger = body.get("trigger_id")
    ts = message.get("ts")
    if not (user and channel and trigger and ts):
        return None
    thread_ts = message.get("thread_ts")
    return Shortcut(
        user_id=str(user),
        channel_id=str(channel),
        trigger_id=str(trigger),
        message_ts=str(ts),
        thread_ts=str(thread_ts) if thread_ts and thread_ts != ts else None,
        author_id=str(message["user"]) if message.get("user") else None,
        text=str(message.get("text") or ""),
    )


def register(app: App, deps: Deps) -> None:
    def on_shortcut(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        shortcut = parse_shortcut(body)
        if shortcut is None:
            logger.warning("message shortcut without a message: %.200r", body.get("message"))
            return
        do_open_save_modal(deps, shortcut, client)

    def on_submit(ack: Ack, body: dict[str, Any]) -> None:
        submission = vetted_blocks.parse_submission(body)
        if submission is None:
            logger.warning("vetted answer submission without its source; ignored")
            ack()
            return
        problems = check_submission(deps, submission)
        if problems:
            ack(response_action="errors", errors=problems)
            return
        ack()  # the modal closes; storing and indexing may take longer than Slack waits
        do_save_answer(deps, submission)

    app.message_shortcut(vetted_blocks.SHORTCUT_ID)(on_shortcut)
    app.view(vetted_blocks.VIEW_ID)(on_submit)


def _tell(deps: Deps, *, channel: str, user_id: str, key: str, **values: object) -> None:
    with transaction(deps.session_factory) as session:
        ephemeral(
            deps,
            session,
            channel=channel,
            user_id=user_id,
            message=ticket_blocks.ephemeral(key, deps.staff_language, **values),
            now=deps.clock(),
        )
    deps.outbox.wake()


def do_open_save_modal(deps: Deps, shortcut: Shortcut, client: WebClient) -> None:
    group = deps.staff_members()  # before the session: it may ask Slack
    with deps.session_factory() as session:
        if not staff.is_staff(session, user_id=shortcut.user_id, usergroup_members=group):
            refusal = "staff.refused"
        elif (
            shortcut.thread_ts is None
            or shortcut.author_id is None
            or not staff.is_staff(session, user_id=shortcut.author_id, usergroup_members=group)
            or seller_for_channel(session, channel_id=shortcut.channel_id) is None
        ):
            refusal = "vetted.refused.not_reply"
        else:
            refusal = None
            question = vetted_answers.thread_question(
                session, channel_id=shortcut.channel_id, thread_ts=shortcut.thread_ts
            )
            if question is None:
                refusal = "vetted.refused.not_reply"
    if refusal is not None:
        logger.info("save as an answer refused to %s: %s", shortcut.user_id, refusal)
        _tell(deps, channel=shortcut.channel_id, user_id=shortcut.user_id, key=refusal)
        return
    assert question is not None and shortcut.thread_ts is not None
    view = vetted_blocks.save_modal(
        question=question.text,
        answer=shortcut.text,
        answer_language=detect_language(
            shortcut.text, default="en" if question.language == "en" else "fr"
        ),
        source=vetted_blocks.Source(
            question.id, shortcut.channel_id, shortcut.thread_ts, shortcut.message_ts
        ),
        staff_language=deps.staff_language,
    )
    try:
        client.views_open(trigger_id=shortcut.trigger_id, view=view)
    except (SlackApiError, SlackClientError, OSError):
        logger.exception("views.open failed for %s", shortcut.user_id)
        _tell(
            deps, channel=shortcut.channel_id, user_id=shortcut.user_id, key="vetted.refused.modal"
        )


def check_submission(deps: Deps, submission: vetted_blocks.Submission) -> dict[str, str]:
    """Slack's per-field errors; empty when it can be saved. A person who is not staff (the
    modal is only ever opened for staff) is refused beside the answer."""
    group = deps.staff_members()
    with deps.session_factory() as session:
        if not staff.is_staff(session, user_id=submission.user_id, usergroup_members=group):
            return {vetted_blocks.BLOCK_ANSWER: messages.text("staff.refused", deps.staff_language)}
        seller = seller_for_channel(session, channel_id=submission.source.channel_id)
        problems = vetted_answers.check_vetted_answer(
            question=submission.question,
            answer=submission.answer,
            guideline_url=submission.link,
            seller=seller,
        )
    return vetted_blocks.errors(problems, deps.staff_language)


def do_save_answer(deps: Deps, submission: vetted_blocks.Submission) -> None:
    """Store the edited text (never the raw message), index it, and say so privately."""
    source = submission.source
    with transaction(deps.session_factory) as session:
        seller = seller_for_channel(session, channel_id=source.channel_id)
        question = session.get(Question, source.question_id)
        row = vetted_answers.do_save_vetted_answer(
            session,
            question=submission.question,
            answer=submission.answer,
            language=submission.language,
            author_id=submission.user_id,
            guideline_url=submission.link,
            now=deps.clock(),
            seller=seller,
            source_question_id=question.id if question is not None else None,
            source_channel_id=source.channel_id,
            source_thread_ts=source.thread_ts,
            source_message_ts=source.message_ts,
        )
        entry = entry_of(row)
    key = "vetted.saved"
    try:
        if deps.vetted_index is None:
            raise RuntimeError("no answer index is configured in this process")
        deps.vetted_index.add_vetted([entry])
    except Exception:
        # stored all the same: the index is rebuilt from the database at the next start
        logger.exception("vetted answer %s saved but not indexed", entry.id)
        key = "vetted.saved_not_indexed"
    _tell(deps, channel=source.channel_id, user_id=submission.user_id, key=key, id=entry.id)
