"""Every sentence the knowledge package says to a seller, French and English side by side."""

from __future__ import annotations

from datetime import date

from knowledge.types import Language

MESSAGES: dict[str, dict[Language, str]] = {
    "lead": {
        "fr": "D'après nos consignes :",
        "en": "According to our guidelines:",
    },
    # Said instead of "lead" when the confidence is under the calibration's `sure`: the
    # passage is on the topic, but the guidelines may not answer this very question.
    "lead_tentative": {
        "fr": (
            "Voici le passage de nos consignes le plus proche de votre question. S'il n'y "
            "répond pas, cliquez sur « J'ai besoin d'un humain » :"
        ),
        "en": (
            "Here is the passage of our guidelines closest to your question. If it doesn't "
            'answer it, click "I need a human":'
        ),
    },
    # Said before a quote whose guideline exists only in the other language.
    "only_in_other": {
        "fr": "Ce passage n'existe qu'en anglais :",
        "en": "This guideline is only available in French:",
    },
    "abstain": {
        "fr": (
            "Je ne trouve pas la réponse à cette question dans nos consignes, et je préfère "
            "ne rien inventer. Je transmets votre question à l'équipe support : une personne "
            "vous répondra dans ce fil."
        ),
        "en": (
            "I can't find the answer to this question in our guidelines, and I'd rather not "
            "guess. I'm passing your question to the support team: a person will reply in "
            "this thread."
        ),
    },
    # A vetted answer (knowledge.vetted): a help-desk reply staff saved for every seller.
    "vetted_lead": {
        "fr": "Notre équipe support a déjà répondu à cette question :",
        "en": "Our help desk has answered this question before:",
    },
    # Said before a vetted answer written in the other language (no machine translation).
    "vetted_only_in_other": {
        "fr": "Cette réponse n'existe qu'en anglais :",
        "en": "This answer is only available in French:",
    },
    "vetted_guideline": {
        "fr": "La consigne correspondante",
        "en": "The guideline it relies on",
    },
    "empty_index": {
        "fr": "La base de consignes est vide : lancez d'abord `comptoir kb ingest DOSSIER`.",
        "en": "The guideline index is empty: run `comptoir kb ingest FOLDER` first.",
    },
}


def say(key: str, language: Language) -> str:
    return MESSAGES[key][language]


_MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def help_desk_title(day: date, language: Language) -> str:
    """How a vetted answer is cited: "Help-desk answer of 2026-12-07", "Réponse du support du
    7 décembre 2026"."""
    if language == "fr":
        first = "1er" if day.day == 1 else str(day.day)
        return f"Réponse du support du {first} {_MONTHS_FR[day.month - 1]} {day.year}"
    return f"Help-desk answer of {day.isoformat()}"
