"""Vetted answers: a staff reply in a seller's thread, saved for every seller who asks next.

What another seller will read must hold nothing of the first seller's own: `check_vetted_answer`
refuses (it does not mask: a masked sentence reads wrong, and staff know best how to say it
in general terms) an e-mail address, a phone number, an IBAN, an order or transaction number,
a Slack mention or id, and the seller's own name, id or channel. The modal shows the reason
beside the field, and nothing is stored until the text is clean.

Queries are keyword-only and take the session; the caller owns the transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.models import Question, Seller, VettedAnswer

MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 3000
MAX_URL_CHARS = 500
LANGUAGES = ("fr", "en")

# What identifies a person, an account or a case. Each pattern is named in the refusal.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.I)
# +33 6 12 34 56 78, 06.12.34.56.78, 0612345678, +44 20 7946 0958
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(0\))?[ .-]?\d(?:[ .-]?\d){6,12}|0[1-9](?:[ .-]?\d{2}){4})\b"
)
# an order, parcel or transaction number: 5 digits or more in a row, or a reference such as
# #4821, CMD-2291, FR-884213 (letters then digits)
_ORDER = re.compile(r"(?<![\w.,])\d{5,}\b|#\d{3,}\b|\b[A-Z]{2,5}-?\d{4,}\b")
_SLACK_MENTION = re.compile(r"<[@#!][^>]*>|\b[UWCGD](?=[A-Z0-9]*\d)[A-Z0-9]{8,}\b")


class VettedAnswerError(ValueError):
    """An answer that cannot be saved or retired; the message says which value is wrong."""


@dataclass(frozen=True)
class Problem:
    """One reason a field is refused: the field ("question", "answer", "link"), the kind of
    data found, and the text found (shown to the staff member, who wrote it)."""

    field: str
    kind: (
        str  # email | phone | iban | order_number | slack_mention | seller | empty | too_long | url
    )
    found: str = ""


def _private_data(text: str, *, seller_terms: tuple[str, ...]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for kind, pattern in (
        ("email", _EMAIL),
        ("iban", _IBAN),
        ("phone", _PHONE),
        ("slack_mention", _SLACK_MENTION),
        ("order_number", _ORDER),
    ):
        for match in pattern.finditer(text):
            value = match.group(0).strip()
            # an IBAN's or a phone's digits are not also an order number
            if any(value in seen for _, seen in found):
                continue
            found.append((kind, value))
    low = text.casefold()
    for term in seller_terms:
        if len(term) >= 3 and term.casefold() in low:
            found.append(("seller", term))
    return found


def check_vetted_answer(
    *,
    question: str,
    answer: str,
    guideline_url: str | None,
    seller: Seller | None,
) -> list[Problem]:
    """Everything that stops this answer from being shown to another seller; empty when it
    can be saved. `seller`: whose thread it comes from (their name, id and channel are refused)."""
    terms = (seller.name, seller.seller_id, seller.channel_id) if seller is not None else ()
    problems: list[Problem] = []
    for field, text, limit in (
        ("question", question, MAX_QUESTION_CHARS),
        ("answer", answer, MAX_ANSWER_CHARS),
    ):
        if not text.strip():
            problems.append(Problem(field, "empty"))
            continue
        if len(text) > limit:
            problems.append(Problem(field, "too_long", str(limit)))
        problems += [
            Problem(field, kind, value) for kind, value in _private_data(text, seller_terms=terms)
        ]
    url = (guideline_url or "").strip()
    if url and (not re.match(r"^https?://[^\s<>|]+$", url) or len(url) > MAX_URL_CHARS):
        problems.append(Problem("link", "url", url[:80]))
    return problems


def do_save_vetted_answer(
    session: Session,
    *,
    question: str,
    answer: str,
    language: str,
    author_id: str,
    guideline_url: str | None,
    now: datetime,
    seller: Seller | None,
    source_question_id: int | None = None,
    source_channel_id: str | None = None,
    source_thread_ts: str | None = None,
    source_message_ts: str | None = None,
) -> VettedAnswer:
    """Store the answer as edited; VettedAnswerError when `check_vetted_answer` finds anything."""
    problems = check_vetted_answer(
        question=question, answer=answer, guideline_url=guideline_url, seller=seller
    )
    if problems:
        raise VettedAnswerError(
            "; ".join(f"{p.field}: {p.kind} {p.found}".strip() for p in problems)
        )
    if language not in LANGUAGES:
        raise VettedAnswerError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    row = VettedAnswer(
        question=question.strip(),
        answer=answer.strip(),
        language=language,
        author_id=author_id,
        guideline_url=(guideline_url or "").strip() or None,
        created_at=now,
        retired_at=None,
        source_question_id=source_question_id,
        source_channel_id=source_channel_id,
        source_thread_ts=source_thread_ts,
        source_message_ts=source_message_ts,
    )
    session.add(row)
    session.flush()
    return row


def do_retire_vetted_answer(session: Session, *, answer_id: int, now: datetime) -> VettedAnswer:
    """Mark it retired (kept for audit); VettedAnswerError for an unknown id. Retiring twice
    keeps the first time."""
    row = session.get(VettedAnswer, answer_id)
    if row is None:
        raise VettedAnswerError(f"no help-desk answer with id {answer_id}")
    if row.retired_at is None:
        row.retired_at = now
        session.flush()
    return row


def list_vetted_answers(session: Session, *, include_retired: bool = True) -> list[VettedAnswer]:
    query = select(VettedAnswer).order_by(VettedAnswer.id)
    if not include_retired:
        query = query.where(VettedAnswer.retired_at.is_(None))
    return list(session.scalars(query))


def active_vetted_answers(session: Session) -> list[VettedAnswer]:
    """What the answer index must hold (knowledge.vetted): every answer not retired."""
    return list_vetted_answers(session, include_retired=False)


def saved_between(session: Session, *, since: datetime, now: datetime) -> list[VettedAnswer]:
    return list(
        session.scalars(
            select(VettedAnswer)
            .where(VettedAnswer.created_at.between(since, now))
            .order_by(VettedAnswer.id)
        )
    )


def thread_question(session: Session, *, channel_id: str, thread_ts: str) -> Question | None:
    """The seller's question a reply in this thread answers: the latest question of the thread
    (its first message, or a follow-up)."""
    return session.scalar(
        select(Question)
        .where(Question.channel_id == channel_id, Question.thread_ts == thread_ts)
        .order_by(Question.id.desc())
        .limit(1)
    )


def to_json(row: VettedAnswer) -> dict[str, Any]:
    return {
        "id": row.id,
        "question": row.question,
        "answer": row.answer,
        "language": row.language,
        "author_id": row.author_id,
        "guideline_url": row.guideline_url,
        "created_at": row.created_at.isoformat(),
        "retired_at": row.retired_at.isoformat() if row.retired_at else None,
        "source_channel_id": row.source_channel_id,
        "source_thread_ts": row.source_thread_ts,
    }
