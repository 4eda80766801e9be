"""Decide whether the guidelines answer a question, and quote them when they do.

The decision is a logistic model over retrieval and sentence signals (fitted by
`python -m bench.calibrate` on the dev parts of the sample and of the outside material);
below its threshold the bot says
it does not know and hands off; between the threshold and `sure` it quotes the
closest passage and says it may not answer. The extractive answer quotes the most relevant
sentences of the best passages verbatim, so it can never state a policy that
is not written down.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping

import numpy as np

from knowledge.asks import FIGURE_KINDS, asks, holds
from knowledge.calibration import CALIBRATION, Calibration
from knowledge.glossary import translations
from knowledge.messages import say
from knowledge.quoting import Candidate, select_quotes
from knowledge.retrieve import Retrieval, doc_key_of, to_passage
from knowledge.textnorm import STOPWORDS, fold, stem, terms, words
from knowledge.types import Answer, Citation, Language

FEATURES = (
    "dense_top",
    "dense_margin",
    "coverage",
    "unknown",
    "account_specific",
    "out_of_corpus",
    "unit_fit",
    "asks_fact",
)
# Passages the quote may come from: retrieval's best few, re-ranked by how well they answer.
CANDIDATES = 6
UnitDense = Callable[[Candidate, list[str]], "np.ndarray | None"]
# Per chunk id, its quotable units and their vectors as stored at ingest (KnowledgeIndex).
UnitVectors = Mapping[str, tuple[list[str], np.ndarray]]

# A seller asking about their own order, payout or listing needs a person with back-office
# access (a Level 2/3 problem), even when a guideline on the topic exists.
_MONEY_OR_ORDER_FR = (
    r"(?:virement|versement|paiement|commande|cmd|fiche|annonce|compte|boutique|facture)s?"
)
_MONEY_OR_ORDER_EN = r"(?:payout|payment|transfer|order|listing|account|shop|store|invoice)s?"
_ACCOUNT_SPECIFIC = re.compile(
    # an order or transaction number, a date-stamped reference, urgency
    r"\b\d{5,}\b|\b\d{4}-\d{3,}\b|\basap\b|\burgent|"
    # a request to act on the seller's account
    r"\b(?:can|could) you (?:check|look|unblock|fix|tell me why)|"
    r"\b(?:pouvez|pourriez)[- ]vous (?:verifier|regarder|debloquer|corriger|me dire pourquoi)|"
    # "my payout ... missing", "ma commande ... bloquée": the seller's own case (a suspended
    # account alone is not: "que faire si mon compte est suspendu" is a policy question)
    rf"\b(?:my|our)\s+(?:\w+\s+)?{_MONEY_OR_ORDER_EN}\b.*"
    r"\b(?:missing|blocked|never|not|removed|yet|late|delayed|still)\b|"
    rf"\b(?:mon|ma|mes|notre|nos)\s+(?:\w+\s+)?{_MONEY_OR_ORDER_FR}\b.*"
    r"\b(?:bloquee?s?|manquante?s?|pas recue?s?|pas arrivee?s?|jamais|retiree?s?|"
    r"toujours pas|en retard)\b|"
    # "virement pas reçu", "payout not received": a missing transaction, no possessive needed
    rf"\b{_MONEY_OR_ORDER_FR}\s+(?:\w+\s+)?(?:pas|jamais|toujours pas)\s+(?:recue?s?|arrivee?s?|versee?s?)\b|"
    rf"\b{_MONEY_OR_ORDER_EN}\s+(?:\w+\s+)?(?:not|never)\s+(?:received|arrived|paid)\b|"
    # "why was my ...", "pourquoi mon ...": asks for the reason behind one case
    r"\bwhy (?:was|is|has|did) (?:my|our)\b|\bpourquoi (?:mon|ma|mes|notre|nos)\b"
)


# Out-of-corpus weight: a word of 3 letters or fewer counts 0, 6 or more counts 1 ("shopify",
# "urssaf", "negotiable"); the sum is capped. Chosen on the dev split (bench.calibrate).
_OOC_MIN_LEN = 4
_OOC_FULL_LEN = 6
_OOC_CAP = 2.0


def out_of_corpus(question: str, vocabulary: Collection[str]) -> float:
    """How many content words of the question the guidelines never use, in either language.

    A word counts when neither its stem nor any glossary translation of it appears in
    the indexed corpus: a French question about an English-only guideline is not
    penalised for being French, while "Shopify", "URSSAF" or "Zalando" are.
    """
    total = 0.0
    for word in words(question):
        if len(word) < _OOC_MIN_LEN or word in STOPWORDS or word.isdigit():
            continue
        term = stem(word)
        if term in vocabulary or any(t in vocabulary for t in translations(term)):
            continue
        total += min(1.0, (len(word) - 3) / (_OOC_FULL_LEN - 3))
    return min(total, _OOC_CAP)


def account_specific(question: str) -> bool:
    """Whether the question is about the seller's own case (an order number, "my payout …
    missing", "why was my …"): a person with back-office access must answer it."""
    return _ACCOUNT_SPECIFIC.search(fold(question)) is not None


def unit_fit(retrieval: Retrieval, units: UnitVectors) -> float:
    """How close the question is to the closest single sentence that holds the kind of fact
    it asks for (a duration for "how long?", a figure for "what fee?"), among the passages
    the quote may come from: the plain cosine, not centred, so that it compares across
    questions (only the gap between languages is taken out). With no such sentence, the farthest sentence's; without stored sentence
    vectors, the best passage's.

    A page on the right topic that lacks the figure asked for ("the referral fee for
    jewellery" on a page that gives no per-category rate) is close as a whole and far
    sentence by sentence: the signal that matters most on pages the team did not write.
    """
    qvec = retrieval.query_vector
    fallback = max((sc.dense for sc in retrieval.chunks), default=0.0)
    if qvec is None:
        return fallback
    kind = asks(retrieval.query)
    # A question is closer to any text in its own language: a sentence in another language
    # is lifted by the gap between the language means' closeness to the question (the
    # question's own language is the closest mean), so a French quote for an English
    # question is not held against the answer.
    bias = {lang: float(qvec @ c) for lang, c in retrieval.centroids.items()}
    own = max(bias.values(), default=0.0)
    fitting: list[float] = []
    every: list[float] = []
    for sc in retrieval.chunks[:CANDIDATES]:
        stored = units.get(sc.chunk.chunk_id)
        if stored is None:
            continue
        texts, matrix = stored
        lift = own - bias.get(str(sc.chunk.meta.get("language", "")), own)
        for text, cos in zip(texts, matrix @ qvec + lift, strict=True):
            every.append(float(cos))
            if kind not in FIGURE_KINDS or holds(kind, text):
                fitting.append(float(cos))
    if not every:
        return fallback
    return max(fitting) if fitting else min(every)


def features(retrieval: Retrieval, units: UnitVectors | None = None) -> dict[str, float]:
    """Signals that a question is covered: how close, how clear-cut, how many words shared,
    and whether one sentence holds what it asks for (`units`: see `unit_fit`)."""
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
    account = 1.0 if account_specific(retrieval.query) else 0.0
    return {
        "dense_top": dense_top,
        "dense_margin": margin,
        "coverage": coverage,
        "unknown": unknown,
        "account_specific": account,
        "out_of_corpus": out_of_corpus(retrieval.query, retrieval.idf),
        "unit_fit": unit_fit(retrieval, units or {}),
        "asks_fact": 1.0 if asks(retrieval.query) in FIGURE_KINDS else 0.0,
    }


def confidence(feats: dict[str, float], calibration: Calibration = CALIBRATION) -> float:
    z = calibration.bias
    for name, weight, mean, scale in zip(
        FEATURES, calibration.weights, calibration.means, calibration.scales, strict=True
    ):
        z += weight * (feats[name] - mean) / scale
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def extractive_answer(
    retrieval: Retrieval,
    *,
    language: Language,
    conf: float,
    idf: Callable[[str], float] = lambda _t: 1.0,
    unit_dense: UnitDense = lambda _c, _u: None,
    tentative: bool = False,
) -> Answer:
    """Quote the passages that answer, best first; see knowledge.quoting for the choice.
    `tentative`: the quote is offered as the closest passage, which may not answer."""
    top = retrieval.chunks[:CANDIDATES]
    by_id = {sc.chunk.chunk_id: sc for sc in top}
    candidates = [
        Candidate(
            sc.chunk.chunk_id,
            sc.chunk.text,
            str(sc.chunk.meta.get("language", "")),
            n,
            document=doc_key_of(sc.chunk),
            introduction=sc.chunk.chunk_id in retrieval.introductions,
        )
        for n, sc in enumerate(top)
    ]
    chosen = select_quotes(
        candidates,
        query=retrieval.query,
        query_terms=retrieval.query_terms,
        idf=idf,
        unit_dense=unit_dense,
    )
    lines = [say("lead_tentative" if tentative else "lead", language)]
    citations: list[Citation] = []
    for n, sel in enumerate(chosen, start=1):
        passage = to_passage(by_id[sel.candidate.key])
        notice = f"{say('only_in_other', language)} " if passage.language != language else ""
        lines.append(f"{notice}« {sel.quote} » [{n}]")
        citations.append(Citation.of(passage))
    return Answer(
        answered=True,
        language=language,
        text="\n\n".join(lines),
        confidence=conf,
        citations=citations,
        mode="tentative" if tentative else "extractive",
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
