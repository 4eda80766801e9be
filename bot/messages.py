"""Every sentence the bot shows a person, French and English side by side.

`text(key, language)` is the only way in; a missing key or language fails loudly in tests
rather than showing a seller an empty message.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["fr", "en"]

MESSAGES: dict[str, dict[Language, str]] = {
    # the two buttons under every answer (seller's directory language)
    "button.resolved": {
        "fr": "C'est résolu",
        "en": "Resolved",
    },
    "button.human": {
        "fr": "J'ai besoin d'un humain",
        "en": "I need a human",
    },
    "answer.sources": {
        "fr": "Sources",
        "en": "Sources",
    },
    "answer.prompt": {
        "fr": "Cette réponse règle-t-elle votre question ?",
        "en": "Does this answer your question?",
    },
    # an abstention says so plainly (question's language)
    "answer.abstain": {
        "fr": "Je ne trouve pas de réponse sûre dans les guides de la marketplace. "
        "Un membre de l'équipe support va prendre le relais ici, dans ce fil.",
        "en": "I can't find a reliable answer in the marketplace guidelines. "
        "A member of the help desk will take it from here, in this thread.",
    },
    # after a click (seller's directory language)
    "feedback.resolved": {
        "fr": "✅ Marqué comme résolu. Merci !",
        "en": "✅ Marked as resolved. Thank you!",
    },
    "feedback.human": {
        "fr": "🙋 Vous avez demandé un humain.",
        "en": "🙋 You asked for a human.",
    },
    "handoff.human": {
        "fr": "Un membre de l'équipe support prend le relais. Vous aurez sa réponse ici, dans ce fil.",
        "en": "A member of the help desk will take it from here. You will get the answer here, in this thread.",
    },
    # when the bot itself fails, the seller still hears something
    "error.answer": {
        "fr": "Désolé, je n'ai pas pu répondre à cause d'une erreur de mon côté. "
        "Un membre de l'équipe support va prendre le relais.",
        "en": "Sorry, I couldn't answer because of an error on my side. "
        "A member of the help desk will take it from here.",
    },
}


def text(key: str, language: str) -> str:
    lang: Language = "fr" if language == "fr" else "en"
    return MESSAGES[key][lang]
