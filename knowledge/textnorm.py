"""Lexical normalisation shared by BM25, language detection and sentence trimming.

Slack text is short, often typed without accents ("cmd pas acceptee"), so every
lexical comparison folds accents and case first, then strips a light French/English
suffix so that "remboursements" and "remboursé" meet on the same stem.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+")

# Words that carry no topic. Kept folded (no accents), both languages together:
# a question's language does not decide which list applies.
STOPWORDS = frozenset(
    [
        "a",
        "au",
        "aux",
        "avec",
        "ce",
        "ces",
        "cet",
        "cette",
        "c",
        "ca",
        "d",
        "dans",
        "de",
        "des",
        "du",
        "elle",
        "elles",
        "en",
        "est",
        "et",
        "etre",
        "il",
        "ils",
        "j",
        "je",
        "l",
        "la",
        "le",
        "les",
        "leur",
        "leurs",
        "lui",
        "m",
        "ma",
        "mais",
        "me",
        "mes",
        "moi",
        "mon",
        "n",
        "ne",
        "nos",
        "notre",
        "nous",
        "on",
        "ou",
        "par",
        "pas",
        "pour",
        "qu",
        "que",
        "quel",
        "quelle",
        "quelles",
        "quels",
        "qui",
        "s",
        "sa",
        "se",
        "ses",
        "si",
        "son",
        "sont",
        "sur",
        "t",
        "ta",
        "te",
        "tes",
        "toi",
        "ton",
        "tu",
        "un",
        "une",
        "vos",
        "votre",
        "vous",
        "y",
        "suis",
        "es",
        "sommes",
        "etes",
        "ai",
        "as",
        "avons",
        "avez",
        "ont",
        "fait",
        "faut",
        "peut",
        "peux",
        "puis",
        "dois",
        "doit",
        "comment",
        "combien",
        "quand",
        "pourquoi",
        "quoi",
        "est-ce",
        "ceci",
        "cela",
        "plus",
        "tres",
        "bien",
        "aussi",
        "alors",
        "donc",
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "i",
        "you",
        "he",
        "she",
        "it",
        "we",
        "they",
        "my",
        "your",
        "our",
        "their",
        "me",
        "us",
        "them",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "any",
        "some",
        "there",
        "here",
        "if",
        "then",
        "than",
        "so",
        "as",
        "about",
        "into",
        "over",
        "up",
        "out",
        "just",
    ]
)

# Longest first; a suffix is only removed when at least four letters stay.
_SUFFIXES = (
    "issements", "issement", "ements", "ement", "ations", "ation", "ments", "ment",
    "ites", "ite", "ives", "ive", "euses", "euse", "eurs", "eur", "ings", "ing",
    "ees", "ies", "ers", "ee", "er", "es", "ez", "ed", "ly", "s", "x", "e",
)  # fmt: skip


def fold(text: str) -> str:
    """Lowercase and strip accents: "Acceptée" -> "acceptee"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Folded word tokens, stopwords kept (language detection needs them)."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """Topic terms for lexical matching: folded, stopwords removed, lightly stemmed."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[«\"(A-ZÀ-ÖØ-Þ0-9-])|\n+")


def sentences(text: str) -> list[str]:
    """Split a passage into sentences (and list items), keeping each one's punctuation."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
