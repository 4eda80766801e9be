"""Which sentences and list items an extractive answer quotes."""

from __future__ import annotations

import numpy as np

from knowledge.quoting import (
    Candidate,
    choose_units,
    quote_units,
    render,
    select_quotes,
)
from knowledge.textnorm import terms

COMMISSIONS = (
    "La commission est calculée sur le montant total payé par le client. Les taux en vigueur sont :\n"
    "\n"
    "- Mode, textile et linge de maison : 15 %\n"
    "- Bijoux et montres : 18 %\n"
    "- Mobilier et jardin : 12 %\n"
    "\n"
    "Le taux applicable est celui de la sous-catégorie. La commission est soumise à la TVA "
    "française de 20 %."
)


def test_list_items_are_whole_units_with_their_values() -> None:
    units = quote_units(COMMISSIONS)
    assert "- Mode, textile et linge de maison : 15 %" in units
    assert "- Bijoux et montres : 18 %" in units
    # a colon does not end a unit, a full stop before a capital does
    assert "Les taux en vigueur sont :" in units
    assert units[-1] == "La commission est soumise à la TVA française de 20 %."


def test_empty_or_blank_text_has_no_units() -> None:
    assert quote_units("") == []
    assert quote_units("  \n\n ") == []


def test_render_marks_gaps_in_reading_order() -> None:
    units = ["A.", "B.", "C.", "D."]
    assert render(units, [1, 3]) == "[…] B. [\u2026] D."
    assert render(units, [0, 1, 2, 3]) == "A. B. C. D."


def _select(question: str, texts: list[str]) -> list[str]:
    cands = [Candidate(f"c{i}", t, "fr", i) for i, t in enumerate(texts)]
    picks = select_quotes(
        cands,
        query=question,
        query_terms=terms(question),
        idf=lambda _t: 1.0,
        unit_dense=lambda _c, units: np.zeros(len(units)),
    )
    return [p.quote for p in picks]


def test_lexical_match_keeps_the_asked_item_and_its_number() -> None:
    quotes = _select("quel taux sur le textile ?", [COMMISSIONS])
    assert "- Mode, textile et linge de maison : 15 %" in quotes[0]


def test_english_question_matches_a_french_list_item_through_the_glossary() -> None:
    quotes = _select("commission on jewelry?", [COMMISSIONS])
    assert "- Bijoux et montres : 18 %" in quotes[0]


def test_the_passage_that_answers_leads_even_when_ranked_second() -> None:
    # "combien de temps" asks for a duration: a passage without one does not answer it
    generic = (
        "Chaque commande doit être acceptée. Le client est débité. Ce guide décrit les délais."
    )
    answer = "Une commande non acceptée 48 heures après sa création est annulée automatiquement."
    quotes = _select(
        "combien de temps avant qu'une commande soit annulée automatiquement ?",
        [generic, answer],
    )
    assert "48 heures" in quotes[0]
    assert not any("Ce guide décrit" in q for q in quotes)


def test_no_candidates_means_no_quotes() -> None:
    assert _select("anything", []) == []


NAMING = (
    "Le nom de boutique est visible sur chaque fiche produit. Il doit :\n"
    "- compter entre 3 et 30 caractères ;\n"
    "- ne contenir ni adresse web ni émoji.\n"
    "Le nom peut être modifié une fois tous les 6 mois."
)


def test_a_lead_in_ending_with_a_colon_brings_its_list() -> None:
    units = quote_units(NAMING)
    lead_in = units.index("Il doit :")
    scores = np.zeros(len(units))
    scores[lead_in] = 1.0  # the lead-in alone is on point; its items say what it announces
    keep = choose_units(units, scores, budget=400)
    assert [units[i] for i in keep][:3] == [
        "Il doit :",
        "- compter entre 3 et 30 caractères ;",
        "- ne contenir ni adresse web ni émoji.",
    ]
    # within the budget only: an item that does not fit is left out, never cut
    keep = choose_units(units, scores, budget=len("Il doit :") + 40)
    assert [units[i] for i in keep] == ["Il doit :", "- compter entre 3 et 30 caractères ;"]


def test_an_introduction_neither_leads_nor_comes_second() -> None:
    intro = "Ce guide décrit le nom de boutique, les documents et le compte bancaire."
    cands = [
        Candidate("intro", intro, "fr", 0, document="d", introduction=True),
        Candidate("rule", NAMING, "fr", 1, document="d"),
        Candidate("other", "Le compte bancaire doit être au nom de la société.", "fr", 2, "e"),
    ]
    picks = select_quotes(
        cands,
        query="nom de boutique : quelles règles ?",
        query_terms=terms("nom de boutique : quelles règles ?"),
        idf=lambda _t: 1.0,
        unit_dense=lambda c, units: np.full(len(units), 0.05 if c.key == "intro" else 0.0),
    )
    assert picks[0].candidate.key == "rule"
    assert "intro" not in [p.candidate.key for p in picks]


def test_introductions_are_headings_with_subheadings_or_no_heading_path() -> None:
    from knowledge.index import StoredChunk
    from knowledge.retrieve import introductions

    def chunk(cid: str, section: str, source: str = "a.md") -> StoredChunk:
        return StoredChunk(cid, "…", {"root": "/g", "source": source, "section": section})

    chunks = [
        # a title from the front matter, then an H1 whose preamble introduces its H2s
        chunk("pre", "Ouvrir sa boutique > Sur la marketplace"),
        chunk("rule", "Ouvrir sa boutique > Sur la marketplace > Règles de nommage"),
        chunk("leaf", "Ouvrir sa boutique > Qui peut vendre"),
        chunk("top", "Retours", source="b.md"),  # a guideline's text before any heading
        # the same heading path in another guideline is that guideline's business
        chunk("other", "Ouvrir sa boutique > Sur la marketplace", source="c.md"),
    ]
    assert introductions(chunks) == {"pre", "top"}
