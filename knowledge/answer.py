"""Decide whether the guidelines answer a question, and quote them when they do.

The decision is a logistic model over retrieval signals (fitted by
`python -m bench.calibrate` on the dev split); below its threshold the bot says
it does not know and hands off. The extractive answer quotes the most relevant
sentences of the best passages verbatim, so it can never state a policy that
is not written down.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from knowledge.calibration import CALIBRATION, Calibration
from knowledge.messages import say
from knowledge.retrieve import Retrieval, ScoredChunk, doc_key_of, to_passage
from knowledge.textnorm import fold, sentences, terms
from knowledge.types import Answer, Citation, Language, Passage

FEATURES = ("dense_top", "dense_margin", "coverage", "unknown", "account_specific")
MAX_PASSAGES = 3
QUOTE_CHARS = 420

# A seller asking about their own order, payout or listing needs a person with back-office
# access (a Level 2/3 problem), even when a guideline on the topic exists.
_ACCOUNT_SPECIFIC = re.compile(
    r"\b\d{5,}\b|\b\d{4}-\d{3,}\b|\basap\b|\burgent|"
    r"\b(?:can|could) you (?:check|look|unblock|fix)|"
    r"\b(?:pouvez|pourriez)[- ]vous (?:verifier|regarder|debloquer|corriger)|"
    r"\b(?:my|our)\s+(?:\w+\s+)?(?:payout|order|listing|account|invoice)s?\b.*"
    r"\b(?:missing|blocked|never|not|removed|yet)\b|"
    r"\b(?:mon|ma|mes|notre|nos)\s+(?:\w+\s+)?(?:virement|versement|commande|fiche|compte)s?\b.*"
    r"\b(?:bloque|manquant|pas recu|jamais|retire)"
)


def features(retrieval: Retrieval) -> dict[str, float]:
    """Signals that a question is covered: how close, how clear-cut, how many words shared."""
    if not retrieval.chunks:
        return dict.fromkeys(FEATURES, 0.0)
    best_by_doc: dict[str, float] = {}
    for sc in retrieval.chunks:
        key = doc_key_of(sc.chunk)
        best_by_doc[key] = max(best_by_doc.get(key, -9.0), sc.dense_adj)
    top_doc = retrieval.documents[0][0]
    dense_top = max(sc.dense for sc in retrieval.chunks)
    others = [v for k, v in best_by_doc.items() if k != top_doc]
    margin = best_by_doc[top_doc] - (max(others) if others else 0.0)
    qterms = set(retrieval.query_terms)
    doc_terms: set[str] = set()
    for sc in retrieval.top_of(top_doc)[:3]:
        doc_terms.update(terms(f"{sc.chunk.meta.get('section', '')} {sc.chunk.text}"))
    # Words the guidelines never use weigh most: "Shopify", "TVA", "animalerie".
    top_idf = max(retrieval.idf.values(), default=1.0)
    weight = {t: max(retrieval.idf.get(t, top_idf), 0.1) for t in qterms}
    total = sum(weight.values()) or 1.0
    coverage = sum(w for t, w in weight.items() if t in doc_terms) / total
    unknown = sum(1 for t in qterms if t not in retrieval.idf) / max(len(qterms), 1)
    account = 1.0 if _ACCOUNT_SPECIFIC.search(fold(retrieval.query)) else 0.0
    return {
        "dense_top": dense_top,
        "dense_margin": margin,
        "coverage": coverage,
        "unknown": unknown,
        "account_specific": account,
    }


def confidence(feats: dict[str, float], calibration: Calibration = CALIBRATION) -> float:
    z = calibration.bias
    for name, weight, mean, scale in zip(
        FEATURES, calibration.weights, calibration.means, calibration.scales, strict=True
    ):
        z += weight * (feats[name] - mean) / scale
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class Quote:
    passage: Passage
    text: str


def select_passages(retrieval: Retrieval) -> list[ScoredChunk]:
    """The best chunk, plus up to two more that are nearly as good (same document first)."""
    if not retrieval.chunks:
        return []
    best = retrieval.chunks[0]
    chosen = [best]
    for sc in retrieval.chunks[1:8]:
        if len(chosen) >= MAX_PASSAGES:
            break
        close = sc.fused >= 0.92 * best.fused and sc.dense >= best.dense - 0.02
        if close:
            chosen.append(sc)
    return chosen


def trim(
    text: str,
    query_terms: Sequence[str],
    *,
    idf: Callable[[str], float] = lambda _t: 1.0,
    max_chars: int = QUOTE_CHARS,
) -> str:
    """Keep the sentences that share the most (rare) words with the question, in reading order."""
    parts = sentences(text)
    if len(text) <= max_chars or len(parts) <= 1:
        return text.strip()
    qset = set(query_terms)
    scored = [(sum(idf(t) for t in set(terms(s)) & qset), -i, i, s) for i, s in enumerate(parts)]
    keep: list[int] = []
    used = 0
    for score, _neg, i, s in sorted(scored, reverse=True):
        if keep and (score <= 0 or used + len(s) > max_chars):
            continue
        keep.append(i)
        used += len(s)
        if used >= max_chars:
            break
    if not any(scored[i][0] > 0 for i in keep):  # nothing shared (other language): lead sentences
        keep, used = [], 0
        for i, s in enumerate(parts):
            if keep and used + len(s) > max_chars:
                break
            keep.append(i)
            used += len(s)
    keep.sort()
    out: list[str] = []
    for pos, i in enumerate(keep):
        if pos and i != keep[pos - 1] + 1:
            out.append("[…]")
        out.append(parts[i])
    if keep[-1] != len(parts) - 1 and not out[-1].endswith("…"):
        out.append("[…]")
    return " ".join(out)


def extractive_answer(
    retrieval: Retrieval,
    *,
    language: Language,
    conf: float,
    idf: Callable[[str], float] = lambda _t: 1.0,
) -> Answer:
    chosen = select_passages(retrieval)
    lines = [say("lead", language)]
    citations: list[Citation] = []
    for n, sc in enumerate(chosen, start=1):
        passage = to_passage(sc)
        quote = trim(passage.text, retrieval.query_terms, idf=idf)
        notice = f"{say('only_in_other', language)} " if passage.language != language else ""
        lines.append(f"{notice}« {quote} » [{n}]")
        citations.append(Citation.of(passage))
    return Answer(
        answered=True,
        language=language,
        text="\n\n".join(lines),
        confidence=conf,
        citations=citations,
        mode="extractive",
    )


def abstention(language: Language, conf: float) -> Answer:
    return Answer(
        answered=False,
        language=language,
        text=say("abstain", language),
        confidence=conf,
        citations=[],
        mode="abstain",
    )
