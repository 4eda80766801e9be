"""Pick what to quote: the sentences and list items of the retrieved passages that answer.

A quote is verbatim, so the only freedom is which units to keep. A unit is a
sentence, or a whole list item ("- Mode, textile et linge de maison : 15 %"):
an item is never split, so a value is never cut from its label. Units are
scored by relevance to the question (the dense cosine of the unit, embedded at
ingest under its heading path, with each language's mean vector taken out as in
retrieval, plus the share of the question's rare words it contains,
glossary-translated so a French passage can match an English question), and kept
in reading order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.asks import FACT_KINDS, asks, holds
from knowledge.glossary import expand
from knowledge.textnorm import terms

# Sentence ends: . ! ? followed by a capital or an opening quote. A colon or a
# semicolon does not end a unit: "délai : 24 heures" must stay together.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[«\"(A-ZÀ-ÖØ-Þ])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_INLINE_ITEM = re.compile(r"(?<=[.!?;])\s+(?=-\s+[A-ZÀ-ÖØ-Þ])")


MAX_UNITS_PER_PASSAGE = 3
MAX_PASSAGES = 2
ANSWER_CHARS = 700
# Centred unit cosines spread over ~0.05, lexical coverage over 0..1: the meaning leads and
# shared words still count. Chosen on the dev split's facts (bench.quality, quote_hit):
# 4 -> 0.61, 8 -> 0.62, 32 -> 0.70, 48 -> 0.70, 200 -> 0.74 (words only: 0.56).
DENSE_WEIGHT = 32.0
NUMBER_BONUS = 0.15
SECOND_PASSAGE = 0.75  # quote a second passage when its best unit scores this share of the lead's
RANK_PENALTY = 0.02


def quote_units(text: str) -> list[str]:
    """Sentences and whole list items, in reading order."""
    units: list[str] = []
    for line in _lines(text):
        line = line.strip()
        if not line:
            continue
        if _LIST_ITEM.match(line):
            units.append(line)
            continue
        units.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return units


def _lines(text: str) -> list[str]:
    """Lines, with list items that a loader flattened into one line ("- a. - b.") split apart."""
    out: list[str] = []
    for line in text.splitlines():
        if _LIST_ITEM.match(line):
            out.extend(p for p in _INLINE_ITEM.split(line) if p.strip())
        else:
            out.append(line)
    return out


@dataclass(frozen=True)
class Candidate:
    """One retrieved passage to choose quotes from."""

    key: str  # chunk id
    text: str
    language: str
    rank: int  # its place in the retrieval, 0 = best
    document: str = ""  # the guideline it comes from
    introduction: bool = False  # the text before the guideline's first section


@dataclass(frozen=True)
class Selection:
    candidate: Candidate
    quote: str
    score: float


Embed = Callable[[Sequence[str]], np.ndarray]  # units -> L2-normalised rows


def coverage(text: str, *, query_terms: Sequence[str], idf: Callable[[str], float]) -> float:
    """Share of the question's (idf-weighted) terms that the text contains, glossary-aware."""
    weights = {t: max(idf(t), 0.05) for t in set(query_terms)}
    total = sum(weights.values()) or 1.0
    tterms = set(terms(text))
    return sum(w for t, w in weights.items() if t in tterms or expand([t]) & tterms) / total


def unit_scores(
    units: Sequence[str],
    *,
    query: str,
    query_terms: Sequence[str],
    idf: Callable[[str], float],
    dense: np.ndarray | None,
) -> np.ndarray:
    """Relevance of each unit: lexical coverage of the question + weighted centred cosine."""
    wanted = asks(query)
    out = np.zeros(len(units))
    for i, unit in enumerate(units):
        score = coverage(unit, query_terms=query_terms, idf=idf)
        if wanted in FACT_KINDS and holds(wanted, unit):
            score += NUMBER_BONUS
        if dense is not None:
            score += DENSE_WEIGHT * float(dense[i])
        out[i] = score
    return out


def choose_units(units: Sequence[str], scores: np.ndarray, *, budget: int) -> list[int]:
    """The best unit, then up to two more nearly as good, within `budget` characters; a
    kept lead-in ending with a colon brings its list items."""
    order = sorted(range(len(units)), key=lambda i: (-scores[i], i))
    best = order[0]
    keep = [best]
    used = len(units[best])
    floor = scores[best] - 0.35 * abs(scores[best]) - 0.05
    for i in order[1:]:
        if len(keep) >= MAX_UNITS_PER_PASSAGE:
            break
        if scores[i] < floor or used + len(units[i]) > budget:
            continue
        keep.append(i)
        used += len(units[i])
    # A lead-in that ends with a colon ("Il doit :") announces the list that follows: quoted
    # without it, it says nothing. Its items come along while the budget lasts.
    for i in sorted(keep):
        if not units[i].rstrip().endswith(":"):
            continue
        j = i + 1
        while j < len(units) and _LIST_ITEM.match(units[j]) and used + len(units[j]) <= budget:
            if j not in keep:
                keep.append(j)
                used += len(units[j])
            j += 1
    return sorted(keep)


def render(units: Sequence[str], keep: Sequence[int]) -> str:
    """The kept units in reading order, "[…]" where something was left out."""
    out: list[str] = []
    if keep[0] != 0:
        out.append("[…]")
    for pos, i in enumerate(keep):
        if pos and i != keep[pos - 1] + 1:
            out.append("[…]")
        out.append(units[i])
    if keep[-1] != len(units) - 1:
        out.append("[…]")
    return " ".join(out)


def select_quotes(
    candidates: Sequence[Candidate],
    *,
    query: str,
    query_terms: Sequence[str],
    idf: Callable[[str], float],
    unit_dense: Callable[[Candidate, list[str]], np.ndarray | None] = lambda _c, _u: None,
    max_chars: int = ANSWER_CHARS,
) -> list[Selection]:
    """Retrieval's best passage leads (dense + BM25 know the topic better than word overlap),
    unless it is its guideline's introduction (then that guideline's best-answering section
    leads) or it holds no fact of the kind asked (a duration for "how long?", a figure for
    "what rate?") while another retrieved passage does (then that one leads); a second passage, never an introduction, is added when its quotable units cover
    the question nearly as well."""
    wanted = asks(query)
    lacking: set[str] = set()  # passages whose quote holds no fact of the kind asked
    scored: list[tuple[float, Candidate, list[str], np.ndarray]] = []
    for cand in candidates:
        units = quote_units(cand.text)
        if not units:
            continue
        scores = unit_scores(
            units, query=query, query_terms=query_terms, idf=idf, dense=unit_dense(cand, units)
        )
        # A passage answers when one unit is on point AND what it would quote covers the
        # question ("frais" and "textile" in two items of one list beat "frais" alone).
        # Retrieval's order still counts a little: ties go to the better-ranked passage.
        kept = choose_units(units, scores, budget=max_chars // 2)
        quoted = " ".join(units[i] for i in kept)
        covered = coverage(quoted, query_terms=query_terms, idf=idf)
        score = 0.5 * float(scores.max()) + 0.5 * covered - RANK_PENALTY * cand.rank
        if not holds(wanted, quoted):
            score -= NUMBER_BONUS  # "how long?" is not answered by a passage without a duration
            lacking.add(cand.key)
        scored.append((score, cand, units, scores))
    if not scored:
        return []
    first = scored[0]
    if first[1].introduction:
        # An introduction names the topic; the rule sits in a section ("Annulation
        # automatique à 48 heures"). The same guideline's best-answering passage leads.
        same = [i for i in scored if i[1].document == first[1].document]
        ruling = [i for i in same if not i[1].introduction]
        first = max(ruling or same, key=lambda i: i[0])
    if first[1].key in lacking:
        # The lead holds no fact of the kind asked: a retrieved passage that does leads.
        holding = [i for i in scored if i[1].key not in lacking]
        if holding:
            first = max(holding, key=lambda i: i[0])
    scored.sort(key=lambda item: -item[0])
    scored.remove(first)
    scored.insert(0, first)
    lead = max(item[0] for item in scored)
    picks = [scored[0]]
    for item in scored[1:]:
        if len(picks) >= MAX_PASSAGES:
            break
        if item[1].introduction:  # names a topic the lead already answers on
            continue
        if lead > 0 and item[0] >= SECOND_PASSAGE * lead:
            picks.append(item)
    selections: list[Selection] = []
    remaining = max_chars
    for n, (score, cand, units, scores) in enumerate(picks):
        budget = remaining if n == len(picks) - 1 else max(remaining // (len(picks) - n), 160)
        keep = choose_units(units, scores, budget=budget)
        quote = render(units, keep)
        if selections and len(quote) > remaining:
            break
        selections.append(Selection(cand, quote, score))
        remaining -= len(quote)
    return selections
