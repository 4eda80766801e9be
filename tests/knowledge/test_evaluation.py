"""The labelled evaluation set stays true to the guidelines, and its metrics count right."""

from __future__ import annotations

from knowledge.evaluation import GUIDELINES, EvalRow, Outcome, holds_fact, load_eval, metrics
from knowledge.loaders import load_document


def test_every_fact_is_verbatim_in_its_expected_guideline() -> None:
    # A guideline edited without its facts would make the quote figures silently wrong.
    rows = [r for r in load_eval() if r.answerable]
    assert sum(1 for r in rows if r.facts) >= 0.95 * len(rows)
    for row in rows:
        assert row.expected is not None
        doc = load_document(GUIDELINES / row.expected, GUIDELINES)
        text = "\n".join(section.text for section in doc.sections)
        for fact in row.facts:
            assert fact in text, (row.id, fact)
    assert not any(r.facts for r in load_eval() if not r.answerable)


def test_a_fact_is_found_whatever_the_case_spacing_or_no_break_spaces() -> None:
    assert holds_fact("« Délai :\u00a024  heures » [1]", ["délai : 24 heures"])
    assert holds_fact("LIMITE : 5\u202f%", ["limite : 5 %"])
    assert not holds_fact("Délai : 48 heures", ["délai : 24 heures"])
    assert not holds_fact("anything", [])


def _row(n: int, *, answerable: bool = True, facts: tuple[str, ...] = ("24 heures",)) -> EvalRow:
    return EvalRow(f"q{n}", "?", "fr", "a.md", answerable, "clean", "test", facts)


def test_quote_hit_counts_answered_questions_with_facts_only() -> None:
    outcomes = [
        Outcome(_row(1), ["a.md"], True, "« sous 24 heures »"),
        Outcome(_row(2), ["a.md"], True, "« sous 48 heures »"),
        Outcome(_row(3), ["a.md"], False, "Je ne sais pas"),  # abstained: not a quote
        Outcome(_row(4, facts=()), ["a.md"], True, "« ? »"),  # no label: not counted
        Outcome(_row(5, answerable=False, facts=()), [], True, "« 24 heures »"),
    ]
    assert metrics(outcomes)["quote_hit"] == 0.5
    # systems that only rank documents have no quote figure at all
    assert "quote_hit" not in metrics([Outcome(_row(1), ["a.md"], True)])


def test_hedged_answers_are_counted_apart_from_sure_ones() -> None:
    unanswerable = dict(answerable=False, facts=())
    outcomes = [
        Outcome(_row(1), ["a.md"], True, tentative=True),
        Outcome(_row(2), ["a.md"], True),
        Outcome(_row(3), ["a.md"], False),
        Outcome(_row(4, **unanswerable), [], True, tentative=True),  # hedged: not misleading
        Outcome(_row(5, **unanswerable), [], True),  # answered as if sure: misleading
        Outcome(_row(6, **unanswerable), [], False),
        Outcome(_row(7, **unanswerable), [], False),
    ]
    got = metrics(outcomes)
    assert got["tentative"] == 1 / 3 and got["answer_rate"] == 2 / 3
    assert got["sure_wrong"] == 1 / 4 and got["abstain_rate"] == 2 / 4
