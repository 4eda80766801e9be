from __future__ import annotations

import pytest

from knowledge.lang import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cmd pas acceptee", "fr"),
        ("colis pas recu", "fr"),
        ("taille photo?", "fr"),
        ("quels sont les frais sur le textile ?", "fr"),
        ("Bonjour, ma commande est bloquée", "fr"),
        ("l'acheteur veut un remboursement", "fr"),
        ("how do returns work?", "en"),
        ("photo size?", "en"),
        ("payout missing", "en"),
        ("what size must photos be?", "en"),
        ("order still not shipped", "en"),
        ("is the 24h deadline counted on weekends", "en"),
    ],
)
def test_short_slack_messages(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_no_evidence_falls_back_to_the_default() -> None:
    assert detect_language("12345 ???") == "fr"
    assert detect_language("12345 ???", default="en") == "en"
