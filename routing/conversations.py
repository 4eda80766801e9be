"""Seller conversations: Slack deliveries, questions, answers, feedback and thread history.

Every query lives here, keyword-only, taking the session; the caller owns the transaction.
Uniqueness is enforced by the database (event id, channel + message ts, question + kind) with
INSERT … ON CONFLICT DO NOTHING, so retries, twin events and double clicks are decided by the
database even across several processes, and no transaction is aborted by a duplicate.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from routing.models import Feedback, Question, Seller, SlackEvent
from routing.sellers import seller_for_channel

# SlackEvent.status values
RECEIVED = "received"
ANSWERED = "answered"
ABSTAINED = "abstained"
THANKS = "thanks"
TWIN = "twin"  # the app_mention / message pair: the other one carries the question
UNKNOWN_CHANNEL = "unknown_channel"
STAFF = "staff"
TICKET = "ticket"  # judged a problem: a ticket was opened for it
TICKET_REPLY = "ticket_reply"  # the seller wrote in a thread that has a ticket: no bot answer
IGNORED = "ignored"
FAILED = "failed"


def _insert_ignoring_conflict(session: Session, model: Any, values: dict[str, Any]) -> bool:
    """Insert one row unless a unique key already holds it; True when this call inserted it.

    RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT through SQLAlchemy.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(model).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(model).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"unsupported database {dialect}")
    key = model.__mapper__.primary_key[0]
    return session.execute(stmt.returning(key)).first() is not None


# --- Slack deliveries -------------------------------------------------------------------------


def do_record_event(
    session: Session,
    *,
    event_id: str,
    event_type: str,
    channel_id: str | None,
    payload: dict[str, Any],
    now: datetime,
    status: str = RECEIVED,
    note: str | None = None,
) -> bool:
    """Keep a delivery; False when this event id was already taken (a retry or a replay)."""
    return _insert_ignoring_conflict(
        session,
        SlackEvent,
        {
            "event_id": event_id,
            "event_type": event_type,
            "channel_id": channel_id,
            "status": status,
            "note": note,
            "payload": payload,
            "received_at": now,
        },
    )


def mark_event(session: Session, *, event_id: str, status: str, note: str | None = None) -> None:
    session.execute(
        update(SlackEvent).where(SlackEvent.event_id == event_id).values(status=status, note=note)
    )


def get_event(session: Session, *, event_id: str) -> SlackEvent | None:
    return session.get(SlackEvent, event_id)


# --- seller messages --------------------------------------------------------------------------

_THANKS = {"merci", "thanks", "thank", "thx", "ty", "tks", "cheers", "mercii", "merciii"}
_ACK = {
    "top",
    "super",
    "parfait",
    "génial",
    "genial",
    "nickel",
    "cool",
    "ok",
    "okay",
    "oki",
    "daccord",
    "d'accord",
    "great",
    "perfect",
    "awesome",
    "nice",
    "good",
    "bien",
    "reçu",
    "recu",
    "noted",
    "beaucoup",
    "bcp",
    "much",
    "a",
    "lot",
    "you",
    "so",
    "very",
    "many",
    "vous",
    "à",
    "toi",
    "encore",
    "et",
    "bonne",
    "journée",
    "journee",
    "have",
    "day",
    "the",
    "help",
    "pour",
    "l'aide",
    "aide",
    "votre",
    "your",
    "ça",
    "ca",
    "marche",
    "works",
    "it",
    "fonctionne",
    "c'est",
    "bon",
    "all",
}
_MAX_THANKS_WORDS = 10
_SHORTCODE = re.compile(r":[a-z0-9_+\-]+:")
_WORD = re.compile(r"[\w'’]+", re.UNICODE)


def is_thank_you(text: str) -> bool:
    """A short message made only of thanks and acknowledgement words ("top merci 👍").

    A thank-you with a question in it ("merci, et pour les retours ?") is not one.
    """
    if "?" in text:
        return False
    cleaned = _SHORTCODE.sub(" ", text.lower()).replace("’", "'")
    # emoji and punctuation are not words; what is left must all be thanks vocabulary
    cleaned = "".join(
        c if unicodedata.category(c)[0] in "LNZ" or c == "'" else " " for c in cleaned
    )
    words = _WORD.findall(cleaned)
    if not words or len(words) > _MAX_THANKS_WORDS:
        return False
    if not all(w in _THANKS or w in _ACK for w in words):
        return False
    return any(w in _THANKS for w in words) or len(words) <= 2


@dataclass(frozen=True)
class IncomingMessage:
    """A seller's Slack message as plain values (the listener parsed the payload)."""

    event_id: str
    event_type: str
    channel_id: str
    user_id: str | None
    text: str
    ts: str
    thread_ts: str | None
    files: list[dict[str, Any]] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def root_ts(self) -> str:
        return self.thread_ts or self.ts

    @property
    def question_text(self) -> str:
        """What is asked: the text, or the attached files' titles when a screenshot comes alone."""
        if self.text.strip():
            return self.text.strip()
        return " ".join(str(f.get("title") or f.get("name") or "") for f in self.files).strip()


@dataclass(frozen=True)
class Intake:
    """What to do with a message: `question` set means answer it; otherwise `status` says why not."""

    status: str
    note: str | None = None
    question: Question | None = None
    seller: Seller | None = None
    history: list[tuple[str, str | None]] = field(default_factory=list)
    resumed: bool = False  # an earlier attempt claimed the question and never finished it


def do_take_message(
    session: Session,
    *,
    message: IncomingMessage,
    now: datetime,
    author_is_staff: bool = False,
    ticket_thread: bool = False,
) -> Intake:
    """Record the delivery and decide: duplicate, unknown channel, staff, ticket reply,
    thank-you, twin or a question.

    The Question row is claimed here, before answering, so the twin `app_mention`/`message`
    deliveries and concurrent processes give one answer. A staff message or a reply in a
    ticket's thread claims no question: only its `message` delivery counts, the `app_mention`
    twin is dropped, so a mention in such a thread is still acted on once.
    """
    if not do_record_event(
        session,
        event_id=message.event_id,
        event_type=message.event_type,
        channel_id=message.channel_id,
        payload=message.payload,
        now=now,
    ):
        return _resume_unfinished(session, message=message) or Intake(
            status="duplicate_delivery", note="event already taken"
        )

    def decided(status: str, note: str | None = None, **kw: Any) -> Intake:
        mark_event(session, event_id=message.event_id, status=status, note=note)
        return Intake(status=status, note=note, **kw)

    seller = seller_for_channel(session, channel_id=message.channel_id)
    if seller is None:
        return decided(
            UNKNOWN_CHANNEL, f"channel {message.channel_id} is not in the seller directory"
        )
    twin = message.event_type == "app_mention"
    if author_is_staff or (
        message.user_id is not None and message.user_id == seller.account_manager_id
    ):
        if twin:
            return decided(TWIN, "staff mention: its message twin carries it", seller=seller)
        return decided(STAFF, "staff wrote; staff replies are not questions", seller=seller)
    question_text = message.question_text
    if not question_text:
        return decided(IGNORED, "empty message")
    if ticket_thread:
        if twin:
            return decided(TWIN, "reply mention: its message twin carries it", seller=seller)
        return decided(TICKET_REPLY, "the seller replied in a ticket's thread", seller=seller)
    thanked = is_thank_you(question_text) and not message.files
    question_id = _claim_question(session, message=message, seller=seller, now=now, thanks=thanked)
    if question_id is None:
        return decided(TWIN, f"message {message.ts} already taken by its twin event", seller=seller)
    if thanked:
        return decided(THANKS, "thank-you, no reply", seller=seller)
    question = session.get(Question, question_id)
    history = thread_history(
        session, channel_id=message.channel_id, thread_ts=message.root_ts, before_id=question_id
    )
    return Intake(status=RECEIVED, question=question, seller=seller, history=history)


def _resume_unfinished(session: Session, *, message: IncomingMessage) -> Intake | None:
    """The question this very event claimed when an earlier attempt died or failed between
    claiming it and recording its answer (a crash, a database restart): answered now.

    Only the inbox hands an event id over again, and only once the earlier attempt's claim is
    over (it failed, or its lease ran out). An earlier attempt that is still running (frozen,
    not dead) may still be answering, but it can no longer commit: the inbox worker checks its
    claim last in every transaction of the work (bot.inbox, routing.db.fenced), so the answer
    is recorded and queued once. An event that was decided (answered, a twin, a ticket...) is
    a duplicate as before.
    """
    event = session.get(SlackEvent, message.event_id)
    if event is None or event.status != RECEIVED:
        return None
    question = session.scalar(
        select(Question).where(
            Question.channel_id == message.channel_id, Question.message_ts == message.ts
        )
    )
    if question is None or question.mode != "pending":
        return None
    seller = session.get(Seller, question.seller_id)
    if seller is None:
        return None
    history = thread_history(
        session, channel_id=message.channel_id, thread_ts=message.root_ts, before_id=question.id
    )
    return Intake(status=RECEIVED, question=question, seller=seller, history=history, resumed=True)


def _claim_question(
    session: Session, *, message: IncomingMessage, seller: Seller, now: datetime, thanks: bool
) -> int | None:
    inserted = _insert_ignoring_conflict(
        session,
        Question,
        {
            "seller_id": seller.seller_id,
            "channel_id": message.channel_id,
            "message_ts": message.ts,
            "thread_ts": message.root_ts,
            "user_id": message.user_id,
            "text": message.question_text,
            "files": message.files,
            "language": seller.language,
            "answered": False,
            "confidence": 0.0,
            "citations": [],
            # a thank-you is kept (it tells a reader the thread ended well) but never answered
            "mode": "thanks" if thanks else "pending",
            "created_at": now,
        },
    )
    if not inserted:
        return None
    return session.scalar(
        select(Question.id).where(
            Question.channel_id == message.channel_id, Question.message_ts == message.ts
        )
    )


def thread_history(
    session: Session, *, channel_id: str, thread_ts: str, before_id: int
) -> list[tuple[str, str | None]]:
    """Earlier (question, answer) pairs of one thread, oldest first; thank-yous left out."""
    rows = session.execute(
        select(Question.text, Question.answer_text)
        .where(
            Question.channel_id == channel_id,
            Question.thread_ts == thread_ts,
            Question.id < before_id,
            Question.mode != "thanks",
        )
        .order_by(Question.id)
    )
    return [(q, a) for q, a in rows]


def do_record_answer(
    session: Session,
    *,
    question_id: int,
    event_id: str,
    answered: bool,
    language: str,
    text: str,
    confidence: float,
    citations: list[dict[str, Any]],
    mode: str,
    now: datetime,
) -> None:
    session.execute(
        update(Question)
        .where(Question.id == question_id)
        .values(
            answered=answered,
            language=language,
            answer_text=text,
            confidence=confidence,
            citations=citations,
            mode=mode,
            answered_at=now,
        )
    )
    mark_event(session, event_id=event_id, status=ANSWERED if answered else ABSTAINED)


def do_record_failure(session: Session, *, question_id: int, event_id: str, error: str) -> None:
    session.execute(update(Question).where(Question.id == question_id).values(mode="error"))
    mark_event(session, event_id=event_id, status=FAILED, note=error[:2000])


def get_question(session: Session, *, question_id: int) -> Question | None:
    return session.get(Question, question_id)


def seller_of_question(session: Session, *, question: Question) -> Seller | None:
    return session.get(Seller, question.seller_id)


def do_record_feedback(
    session: Session, *, question_id: int, kind: str, user_id: str | None, now: datetime
) -> bool:
    """Keep a click; False when this kind was already recorded for the question (a retry)."""
    return _insert_ignoring_conflict(
        session,
        Feedback,
        {"question_id": question_id, "kind": kind, "user_id": user_id, "created_at": now},
    )


def feedback_for(session: Session, *, question_id: int) -> list[Feedback]:
    return list(
        session.scalars(
            select(Feedback).where(Feedback.question_id == question_id).order_by(Feedback.id)
        )
    )
