"""Vetted answers beside the guidelines: help-desk replies staff saved for every seller.

They live in a Chroma collection of their own ("<guidelines>-vetted"), so the guidelines'
retrieval, its BM25 statistics and its calibration never see them: with no vetted answer
the bot answers exactly as before. Each entry is the question it answers, embedded as a
question, with the answer, its language, its date and its guideline link as metadata.

A new question matches an entry by the cosine of the two questions once the mean direction
of seller questions is taken out (`REFERENCE_QUESTIONS`): raw E5 cosines between any two
seller questions sit around 0.82, and unrelated pairs reach 0.93, while paraphrases are
0.94-0.97. Centred, over the 11,090 pairs of the sample's 153 answerable questions that are
about different guidelines, 99 % score under 0.38 and 11 pairs (0.1 %) reach 0.5 (the highest
0.69); the paraphrases tried score 0.53-0.79 ("Combien de temps ai-je pour accepter une
commande ?" / "Quel est le délai pour accepter une commande ?": 0.79; in English: 0.53),
and some miss. `VETTED_THRESHOLD` sits between.

Entries are read with `get`, and scored here, rather than with Chroma's vector query: another
process (`comptoir kb answers retire`, the HTTP process saving from the modal) writes them,
and an embedded Chroma's query keeps serving the vectors it loaded at start, while `get`
reads what is stored now. A few hundred answers cost a millisecond or two.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from knowledge.messages import help_desk_title, say
from knowledge.types import Answer, Citation, Language

VETTED_THRESHOLD = 0.5
# The mean of these questions' vectors is taken out of every question before two are compared.
# Generic seller questions, written for this purpose, none from an evaluation set.
REFERENCE_QUESTIONS = (
    "Quels sont les frais pour vendre sur la marketplace ?",
    "Comment modifier le prix d'un produit ?",
    "Combien de temps pour expédier une commande ?",
    "Comment fonctionne le retour d'un article ?",
    "Quand est-ce que je reçois mon argent ?",
    "Est-ce que je peux vendre à l'étranger ?",
    "Comment ajouter des photos à mes annonces ?",
    "Que faire si un client laisse un mauvais avis ?",
    "Comment contacter un acheteur ?",
    "Quels documents faut-il pour ouvrir une boutique ?",
    "Comment annuler une commande ?",
    "Où voir mes factures ?",
    "Comment importer mon catalogue ?",
    "Quelles catégories de produits sont interdites ?",
    "Comment gérer mon stock pendant les soldes ?",
    "What fees do I pay on each sale?",
    "How do I change the price of a listing?",
    "How long do I have to ship an order?",
    "How do returns work for buyers?",
    "When do I get paid?",
    "Can I sell to customers abroad?",
    "How many photos can a product have?",
    "What happens if a buyer opens a claim?",
    "How do I reply to a customer message?",
    "Which documents are needed to register my shop?",
    "How can I cancel an order?",
    "Where can I download my invoices?",
    "How do I upload my catalogue in bulk?",
    "Which products am I not allowed to sell?",
    "How do I take a break when I go on holiday?",
)


@dataclass(frozen=True)
class VettedEntry:
    """One vetted answer as the index holds it (plain values; the database row is routing's)."""

    id: int
    question: str
    answer: str
    language: Language
    created: date
    url: str | None = None

    def key(self) -> str:
        return f"vetted-{self.id}"

    def signature(self) -> str:
        """What the stored entry must match: a changed question or answer is embedded again."""
        return "\x1f".join(
            (self.question, self.answer, self.language, self.created.isoformat(), self.url or "")
        )


@dataclass(frozen=True)
class VettedMatch:
    entry: VettedEntry
    score: float  # centred cosine of the two questions


@dataclass
class SyncReport:
    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    kept: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "kept": self.kept}


class VettedIndex:
    """The vetted answers' collection. `embedding_id` names the vector space: an entry stored
    by another model is embedded again at the next `sync`."""

    def __init__(
        self,
        client: Any,
        name: str,
        embeddings: Embeddings,
        *,
        embedding_id: str,
        threshold: float = VETTED_THRESHOLD,
    ) -> None:
        self.name = name
        self.embeddings = embeddings
        self.embedding_id = embedding_id
        self.threshold = threshold
        self.collection = client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self._centroid: np.ndarray | None = None
        self._lock = threading.Lock()

    def count(self) -> int:
        return int(self.collection.count())

    def add(self, entries: Iterable[VettedEntry]) -> None:
        entries = list(entries)
        if not entries:
            return
        vectors = [self.embeddings.embed_query(e.question) for e in entries]
        self.collection.upsert(
            ids=[e.key() for e in entries],
            embeddings=vectors,
            documents=[e.question for e in entries],
            metadatas=[
                {
                    "answer": e.answer,
                    "language": e.language,
                    "created": e.created.isoformat(),
                    "url": e.url or "",
                    "embedding_id": self.embedding_id,
                    "signature": e.signature(),
                }
                for e in entries
            ],
        )

    def remove(self, ids: Iterable[int]) -> None:
        keys = [f"vetted-{i}" for i in ids]
        if keys:
            self.collection.delete(ids=keys)

    def stored(self) -> list[tuple[VettedEntry, dict[str, Any], np.ndarray]]:
        """Every entry with its metadata and its vector, as stored now."""
        if self.count() == 0:
            return []
        page = self.collection.get(include=["documents", "metadatas", "embeddings"])
        out = []
        for key, text, meta, vector in zip(
            page["ids"], page["documents"], page["metadatas"], page["embeddings"], strict=True
        ):
            meta = dict(meta or {})
            entry = VettedEntry(
                id=int(str(key).removeprefix("vetted-")),
                question=text or "",
                answer=str(meta.get("answer", "")),
                language="en" if meta.get("language") == "en" else "fr",
                created=date.fromisoformat(str(meta.get("created"))),
                url=str(meta.get("url") or "") or None,
            )
            out.append((entry, meta, np.asarray(vector, dtype=np.float32)))
        return out

    def sync(self, entries: Sequence[VettedEntry]) -> SyncReport:
        """Make the index hold exactly `entries` (the database's answers not retired): add
        what is missing or changed or was embedded by another model, remove the rest."""
        wanted = {e.id: e for e in entries}
        report = SyncReport()
        fresh: list[VettedEntry] = []
        for entry, meta, _vector in self.stored():
            want = wanted.get(entry.id)
            if want is None:
                report.removed.append(entry.id)
            elif (
                meta.get("signature") != want.signature()
                or meta.get("embedding_id") != self.embedding_id
            ):
                fresh.append(want)
            else:
                report.kept += 1
            wanted.pop(entry.id, None)
        fresh += wanted.values()
        self.remove(report.removed)
        self.add(fresh)
        report.added = sorted(e.id for e in fresh)
        report.removed.sort()
        return report

    def centroid(self) -> np.ndarray:
        """The mean direction of seller questions in this vector space, computed once."""
        with self._lock:
            if self._centroid is None:
                vectors = np.asarray(
                    [self.embeddings.embed_query(q) for q in REFERENCE_QUESTIONS],
                    dtype=np.float32,
                )
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                self._centroid = vectors.mean(axis=0)
            return self._centroid

    def best(self, query_vector: np.ndarray | None, query: str) -> VettedMatch | None:
        """The entry whose question is closest to the query, when it clears the threshold."""
        # an entry embedded by another model (until the next sync re-embeds it) is not
        # comparable: its vector lives in another space
        stored = [e for e in self.stored() if e[1].get("embedding_id") == self.embedding_id]
        if not stored:
            return None
        if query_vector is None:
            query_vector = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
        scores = similarity(
            np.asarray(query_vector, dtype=np.float32),
            np.stack([vector for _e, _m, vector in stored]),
            self.centroid(),
        )
        best = int(np.argmax(scores))
        if scores[best] < self.threshold:
            return None
        return VettedMatch(stored[best][0], round(float(scores[best]), 4))


def similarity(query: np.ndarray, vectors: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    """Cosine of the query with each row, both with the mean question direction taken out."""

    def centred(m: np.ndarray) -> np.ndarray:
        m = m / np.linalg.norm(m, axis=-1, keepdims=True) - centroid
        return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-9)

    return np.asarray(centred(vectors) @ centred(query), dtype=np.float64)


def vetted_answer(match: VettedMatch, *, language: Language) -> Answer:
    """The help desk's answer, in the words staff saved. It exists in one language: a seller
    who asked in the other is told so, as for a guideline, and never given a machine's guess."""
    entry = match.entry
    notice = f"{say('vetted_only_in_other', language)}\n" if entry.language != language else ""
    text = f"{say('vetted_lead', language)}\n\n{notice}{entry.answer} [1]"
    citations = [
        Citation(
            title=help_desk_title(entry.created, language),
            source=entry.key(),
            section="",
            score=match.score,
            url=None,
            language=entry.language,
        )
    ]
    if entry.url:
        citations.append(
            Citation(
                title=say("vetted_guideline", language),
                source=entry.url,
                section="",
                score=match.score,
                url=entry.url,
                language=entry.language,
            )
        )
    return Answer(
        answered=True,
        language=language,
        text=text,
        confidence=match.score,
        citations=citations,
        mode="vetted",
    )
