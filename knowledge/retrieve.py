"""Hybrid retrieval: dense (Chroma) and BM25 fused, then ranked by document.

Sellers ask about a guideline, so the unit that matters is the document: a
document is as good as its best chunk. Dense search carries cross-language and
paraphrased questions; BM25 (accent-folded, lightly stemmed) carries the exact
terms sellers type ("IBAN", "EAN", "soldes").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from rank_bm25 import BM25Okapi

from knowledge.chunking import SECTION_SEP
from knowledge.index import ChromaIndex, StoredChunk
from knowledge.textnorm import terms
from knowledge.types import Passage


@dataclass(frozen=True)
class RetrievalConfig:
    mode: str = "hybrid"  # dense | bm25 | hybrid
    dense_candidates: int = 50  # per language
    # Share of each language's mean vector removed from the dense score (see Corpus.centroids).
    # Tuned on the dev split (bench.quality): BM25 cannot cross languages, so it only nudges.
    center_alpha: float = 1.0
    rrf_k: float = 10.0
    bm25_weight: float = 0.3  # weight of the BM25 list in the fusion


@dataclass(frozen=True)
class ScoredChunk:
    chunk: StoredChunk
    fused: float
    dense: float  # cosine similarity; the weakest candidate's when dense did not return it
    bm25: float
    dense_adj: float = 0.0  # the same, with the language bias taken out


@dataclass(frozen=True)
class Retrieval:
    """Everything later steps need: chunks best first, documents best first, raw signals."""

    query: str
    chunks: list[ScoredChunk]
    documents: list[tuple[str, float]]  # (document key "root|source", best fused score)
    query_terms: list[str]
    idf: dict[str, float] = field(default_factory=dict)  # the corpus's BM25 idf, per term
    query_vector: np.ndarray | None = None  # the question's embedding (None without dense)
    centroids: dict[str, np.ndarray] = field(default_factory=dict)  # per language, see Corpus
    introductions: frozenset[str] = frozenset()  # chunk ids, see Corpus.introductions

    def top_of(self, doc_key: str) -> list[ScoredChunk]:
        return [c for c in self.chunks if doc_key_of(c.chunk) == doc_key]


def doc_key_of(chunk: StoredChunk) -> str:
    return f"{chunk.meta.get('root', '')}|{chunk.meta.get('source', '')}"


def introductions(chunks: list[StoredChunk]) -> frozenset[str]:
    """Chunks that introduce rather than rule: the text of a heading that has subheadings
    ("Ouvrir sa boutique" above "Règles de nommage"), or of a guideline with no heading path.
    They name the topic, so they match many questions, and state few rules."""
    parents: set[tuple[str, str]] = set()
    for c in chunks:
        path = str(c.meta.get("section", "")).split(SECTION_SEP)
        for depth in range(1, len(path)):
            parents.add((doc_key_of(c), SECTION_SEP.join(path[:depth])))
    return frozenset(
        c.chunk_id
        for c in chunks
        if SECTION_SEP not in str(c.meta.get("section", ""))
        or (doc_key_of(c), str(c.meta.get("section", ""))) in parents
    )


class Corpus:
    """The chunks and their BM25 index, held in memory, rebuilt when the index changes."""

    def __init__(self, chunks: list[StoredChunk], stamp: Any) -> None:
        self.stamp = stamp
        self.by_id = {c.chunk_id: i for i, c in enumerate(chunks)}
        tokenized = [terms(f"{c.meta.get('section', '')}\n{c.text}") for c in chunks]
        self.bm25 = BM25Okapi(tokenized) if chunks else None
        # rank_bm25 scores every document in a Python loop per query term (~0.5 s at 20k
        # chunks); an inverted index gives the same Okapi scores, touching only matching chunks.
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.bm25 is not None:
            lists: dict[str, tuple[list[int], list[int]]] = {}
            for i, freqs in enumerate(self.bm25.doc_freqs):
                for term, tf in freqs.items():
                    docs, tfs = lists.setdefault(term, ([], []))
                    docs.append(i)
                    tfs.append(tf)
            self._postings = {
                t: (np.array(d), np.array(f, dtype=float)) for t, (d, f) in lists.items()
            }
            k1, b = self.bm25.k1, self.bm25.b
            self._norm = k1 * (1 - b + b * np.asarray(self.bm25.doc_len) / self.bm25.avgdl)
        # Multilingual E5 scores a passage higher just for sharing the question's language,
        # which buries the right guideline when it exists only in the other language.
        # Subtracting each language's mean passage vector removes that shared component.
        self.centroids: dict[str, np.ndarray] = {}
        self.language_counts: dict[str, int] = {}
        by_lang: dict[str, list[Any]] = {}
        for c in chunks:
            if c.embedding is not None:
                by_lang.setdefault(str(c.meta.get("language", "")), []).append(c.embedding)
        for lang, vectors in by_lang.items():
            self.centroids[lang] = np.mean(np.asarray(vectors, dtype=np.float32), axis=0)
            self.language_counts[lang] = len(vectors)
        # The vectors are only needed for the centroids; keep the memory for the texts.
        self.chunks = [StoredChunk(c.chunk_id, c.text, c.meta) for c in chunks]
        self.introductions = introductions(self.chunks)

    def bm25_scores(self, query_terms: list[str]) -> np.ndarray:
        scores = np.zeros(len(self.chunks))
        if self.bm25 is None:
            return scores
        k1 = self.bm25.k1
        for term in query_terms:  # repeated terms count again, as in BM25Okapi.get_scores
            if term not in self._postings:
                continue
            docs, tf = self._postings[term]
            scores[docs] += self.bm25.idf[term] * (tf * (k1 + 1) / (tf + self._norm[docs]))
        return scores


class Retriever:
    # How long a replica may serve from its in-memory BM25 before checking for a newer ingest.
    STAMP_TTL_S = 10.0

    def __init__(
        self, index: ChromaIndex, embeddings: Embeddings, config: RetrievalConfig | None = None
    ) -> None:
        self.index = index
        self.embeddings = embeddings
        self.config = config or RetrievalConfig()
        self._corpus: Corpus | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._corpus = None

    def corpus(self) -> Corpus:
        with self._lock:
            now = time.monotonic()
            if self._corpus is not None and now - self._checked < self.STAMP_TTL_S:
                return self._corpus
            stamp = (self.index.metadata().get("last_ingest"), self.index.count())
            self._checked = now
            if self._corpus is None or self._corpus.stamp != stamp:
                self._corpus = Corpus(list(self.index.all_chunks(with_embeddings=True)), stamp)
            return self._corpus

    def search(self, query: str) -> Retrieval:
        corpus = self.corpus()
        cfg = self.config
        qterms = terms(query)
        n = len(corpus.chunks)
        if n == 0:
            return Retrieval(query, [], [], qterms)
        dense = np.full(n, np.nan)
        adjusted = np.full(n, np.nan)
        qvec: np.ndarray | None = None
        if cfg.mode in ("dense", "hybrid"):
            qvec = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
            # One search per language, so each language's best passages are candidates.
            for lang, count in corpus.language_counts.items():
                bias = cfg.center_alpha * float(qvec @ corpus.centroids[lang])
                hits = self.index.query(
                    qvec.tolist(), min(cfg.dense_candidates, count), where={"language": lang}
                )
                for cid, score in hits:
                    if cid in corpus.by_id:
                        dense[corpus.by_id[cid]] = score
                        adjusted[corpus.by_id[cid]] = score - bias
        dense_rrf = _rrf(
            np.where(np.isnan(adjusted), -np.inf, adjusted),
            cfg.rrf_k,
            limit=int(np.sum(~np.isnan(adjusted))),
        )
        adj_floor = float(np.nanmin(adjusted)) if not np.all(np.isnan(adjusted)) else 0.0
        adjusted = np.where(np.isnan(adjusted), adj_floor, adjusted)
        floor = float(np.nanmin(dense)) if not np.all(np.isnan(dense)) else 0.0
        dense = np.where(np.isnan(dense), floor, dense)
        bm25 = corpus.bm25_scores(qterms) if cfg.mode in ("bm25", "hybrid") else np.zeros(n)

        fused = np.zeros(n)
        if cfg.mode in ("dense", "hybrid"):
            fused += dense_rrf
        if cfg.mode in ("bm25", "hybrid"):
            fused += cfg.bm25_weight * _rrf(bm25, cfg.rrf_k, limit=n, positive_only=True)
        order = np.argsort(-fused, kind="stable")
        scored = [
            ScoredChunk(
                corpus.chunks[i],
                float(fused[i]),
                float(dense[i]),
                float(bm25[i]),
                float(adjusted[i]),
            )
            for i in order
            if fused[i] > 0
        ]
        documents: dict[str, float] = {}
        for sc in scored:
            documents.setdefault(doc_key_of(sc.chunk), sc.fused)
        idf = corpus.bm25.idf if corpus.bm25 is not None else {}
        return Retrieval(
            query,
            scored,
            list(documents.items()),
            qterms,
            idf,
            qvec,
            corpus.centroids,
            corpus.introductions,
        )

    def passages(self, retrieval: Retrieval, k: int) -> list[Passage]:
        return [to_passage(sc) for sc in retrieval.chunks[:k]]


def to_passage(sc: ScoredChunk) -> Passage:
    meta = sc.chunk.meta
    language = meta.get("language")
    return Passage(
        chunk_id=sc.chunk.chunk_id,
        text=sc.chunk.text,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        section=str(meta.get("section", "")),
        url=str(meta.get("url")) or None,
        language="en" if language == "en" else "fr",
        score=round(sc.dense, 4),
    )


def _rrf(scores: np.ndarray, k: float, *, limit: int, positive_only: bool = False) -> np.ndarray:
    """Reciprocal-rank contribution of each item in one ranked list (0 beyond `limit`)."""
    order = np.argsort(-scores, kind="stable")[:limit]
    out = np.zeros(len(scores))
    for rank, i in enumerate(order):
        if positive_only and scores[i] <= 0:
            break
        out[i] = 1.0 / (k + rank + 1)
    return out
