"""Every sentence the knowledge package says to a seller, French and English side by side."""

from __future__ import annotations

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
    "empty_index": {
        "fr": "La base de consignes est vide : lancez d'abord `comptoir kb ingest DOSSIER`.",
        "en": "The guideline index is empty: run `comptoir kb ingest FOLDER` first.",
    },
}


def say(key: str, language: Language) -> str:
    return MESSAGES[key][language]
