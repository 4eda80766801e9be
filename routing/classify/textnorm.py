"""Folding shared by the floor rules and the lexical cues.

Sellers type without accents, in any case, with curly apostrophes from their phone:
every pattern is written against the folded form so "Compte SUSPENDU", "compte suspendu"
and "compte suspendu" meet.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "«": '"', "»": '"'})
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lowercase, strip accents, straighten apostrophes, collapse whitespace."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip()
