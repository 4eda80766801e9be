"""What a question asks for, and whether a sentence holds it (knowledge.asks)."""

from __future__ import annotations

import pytest

from knowledge.asks import DURATION, NUMBER, PLACE, PROCEDURE, WHEN, asks, holds


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many business days do I have to ship?", DURATION),
        ("j'ai combien de temps pour accepter une cmd", DURATION),
        ("le versement ca prend cmb de temps ?", DURATION),
        ("Quel délai pour rembourser après un retour ?", DURATION),
        ("quel taux sur le textile ?", NUMBER),
        ("What is Amazon's referral fee percentage for the Jewelry category?", NUMBER),
        ("amazon individual per-item fee??", NUMBER),
        ("On which days of the month does the marketplace pay its sellers?", WHEN),
        ("c quand les virements ?? j'ai vu lundi et jeudi qq part", WHEN),
        ("mes versements en attente partent quand du coup ?", WHEN),
        ("Where do I change my bank details?", PLACE),
        ("Où se règlent les frais de port dans le compte vendeur ?", PLACE),
        ("How do I upgrade my seller account to the Professional plan?", "procedure"),
        ("Do eBay fees still apply while my account is on Time Away?", "yesno"),
        ("Amazon facture-t-il des frais de retour au vendeur ?", "yesno"),
        ("je peux mettre les frais de port offerts ou pas ??", "yesno"),
    ],
)
def test_the_kind_of_fact_asked_is_read_from_how_the_question_is_built(
    question: str, kind: str
) -> None:
    assert asks(question) == kind


def test_when_and_quand_as_conjunctions_do_not_ask_for_a_moment() -> None:
    assert asks("Which documents must go in every parcel when we do our own fulfilment?") != WHEN
    assert asks("Quels transporteurs sont agréés quand on fait sa propre logistique ?") != WHEN


@pytest.mark.parametrize(
    ("kind", "holding", "lacking"),
    [
        (DURATION, "within two business days", "2 photos"),
        (DURATION, "dans les 24 h", "24 photos"),
        (DURATION, "sous 14 jours", "14 € de frais"),
        (NUMBER, "15 %", "le taux est fixé par catégorie"),
        (NUMBER, "Une dizaine de méthodes sont proposées", "Plusieurs méthodes sont proposées"),
        (WHEN, "Payouts are sent every Monday.", "Payouts go to your bank account."),
        (WHEN, "le virement part 3 jours après la livraison", "le virement part sur votre compte"),
        (PLACE, "Open Settings > Payments.", "You can change it."),
        (PROCEDURE, "2. Cliquez sur Enregistrer.", "La procédure est simple."),
        (PROCEDURE, "Go to My eBay and select Time Away.", "Time Away is for everyone."),
    ],
)
def test_a_sentence_holds_the_kind_of_fact_asked_or_not(
    kind: str, holding: str, lacking: str
) -> None:
    assert holds(kind, holding) and not holds(kind, lacking)


def test_kinds_that_ask_for_no_particular_fact_are_held_by_any_sentence() -> None:
    assert holds("yesno", "No.") and holds("other", "x")
