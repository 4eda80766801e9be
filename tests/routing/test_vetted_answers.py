"""Vetted answers in the database (SQLite and PostgreSQL): what may be saved, retiring, listing.

Nothing of a seller's own may reach another seller: each kind of private data is refused by
name, with what was found, and nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from routing import vetted_answers
from routing.db import transaction
from routing.models import Seller, VettedAnswer
from routing.vetted_answers import VettedAnswerError, check_vetted_answer

NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)
SELLER = Seller(
    seller_id="S-LUNE", name="Maison Lune", channel_id="C0SHOPFR01", tier="gold", language="fr"
)
CLEAN = "Oui : déposez un dossier d'information produit, puis déclarez le produit au CPNP."


@pytest.mark.parametrize(
    ("text", "kind", "found"),
    [
        (
            "Écrivez à claire.martin@maisonlune.fr pour la suite.",
            "email",
            "claire.martin@maisonlune.fr",
        ),
        ("Appelez le 06 12 34 56 78.", "phone", "06 12 34 56 78"),
        ("Call +44 20 7946 0958 if it fails.", "phone", "+44 20 7946 0958"),
        (
            "Le virement part sur FR76 3000 6000 0112 3456 7890 189.",
            "iban",
            "FR76 3000 6000 0112 3456 7890 189",
        ),
        ("La commande 40213377 est remboursée.", "order_number", "40213377"),
        ("Votre commande #4821 est partie.", "order_number", "#4821"),
        ("Le colis CMD-2291 arrive demain.", "order_number", "CMD-2291"),
        ("Voir <@U0AGENT0001> pour la suite.", "slack_mention", "<@U0AGENT0001>"),
        ("Chez Maison Lune, le délai est de 48 heures.", "seller", "Maison Lune"),
        ("Dans C0SHOPFR01 on a vu ça.", "slack_mention", "C0SHOPFR01"),
    ],
)
def test_private_data_is_refused_by_name(text: str, kind: str, found: str) -> None:
    problems = check_vetted_answer(
        question="Puis-je ?", answer=text, guideline_url=None, seller=SELLER
    )
    assert [(p.field, p.kind, p.found) for p in problems][:1] == [("answer", kind, found)]


def test_general_text_passes_and_the_question_is_checked_too() -> None:
    assert not check_vetted_answer(
        question="Combien de temps ai-je pour accepter une commande ?",
        answer="Vous avez 48 heures ; au-delà de 2 % de refus, 1000 × 1000 pixels, 12 % de commission.",
        guideline_url="https://help.example-market.fr/commandes",
        seller=SELLER,
    )
    problems = check_vetted_answer(
        question="Ma commande 40213377 chez Maison Lune ?",
        answer=CLEAN,
        guideline_url="javascript:alert(1)",
        seller=SELLER,
    )
    assert {(p.field, p.kind) for p in problems} == {
        ("question", "order_number"),
        ("question", "seller"),
        ("link", "url"),
    }
    assert [
        p.kind
        for p in check_vetted_answer(question=" ", answer="", guideline_url=None, seller=None)
    ] == [
        "empty",
        "empty",
    ]


def _save(s: Session, **kw: object) -> VettedAnswer:
    values: dict[str, object] = {
        "question": "Puis-je vendre des cosmétiques faits maison ?",
        "answer": CLEAN,
        "language": "fr",
        "author_id": "U0AGENT0001",
        "guideline_url": None,
        "now": NOW,
        "seller": SELLER,
        "source_channel_id": "C0SHOPFR01",
        "source_thread_ts": "1.0",
        **kw,
    }
    return vetted_answers.do_save_vetted_answer(s, **values)  # type: ignore[arg-type]


def test_save_refuses_private_data_and_stores_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    with pytest.raises(VettedAnswerError, match="iban"), transaction(session_factory) as s:
        _save(s, answer="Remboursé sur FR76 3000 6000 0112 3456 7890 189.")
    with pytest.raises(VettedAnswerError, match="language"), transaction(session_factory) as s:
        _save(s, language="de")
    with session_factory() as s:
        assert s.scalar(select(func.count(VettedAnswer.id))) == 0


def test_save_list_retire(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        first = _save(s, guideline_url=" https://help.example-market.fr/cosmetiques ").id
        second = _save(s, question="Quel délai pour expédier ?", answer="Trois jours ouvrés.").id
    with transaction(session_factory) as s:
        retired = vetted_answers.do_retire_vetted_answer(
            s, answer_id=first, now=NOW + timedelta(hours=1)
        )
        assert retired.retired_at == NOW + timedelta(hours=1)
    with transaction(session_factory) as s:  # a second retire keeps the first time
        again = vetted_answers.do_retire_vetted_answer(
            s, answer_id=first, now=NOW + timedelta(days=1)
        )
        assert again.retired_at == NOW + timedelta(hours=1)
        with pytest.raises(VettedAnswerError, match="no help-desk answer with id 999"):
            vetted_answers.do_retire_vetted_answer(s, answer_id=999, now=NOW)
    with session_factory() as s:
        rows = vetted_answers.list_vetted_answers(s)
        assert [r.id for r in rows] == [first, second]
        assert rows[0].guideline_url == "https://help.example-market.fr/cosmetiques"
        assert [r.id for r in vetted_answers.active_vetted_answers(s)] == [second]
        assert vetted_answers.to_json(rows[1])["retired_at"] is None
