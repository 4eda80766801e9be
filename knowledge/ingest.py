"""Ingest folders of guidelines into the index, re-embedding only what changed.

A document is identified by (ingested folder, path inside it). Its content hash
says whether it changed; inside a changed document, chunks whose text is the
same keep their vectors. Documents that vanished from an ingested folder are
removed. A file that cannot be read is reported and its previous version kept.
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
from knowledge.loaders import Document, LoadError, load_document
from knowledge.quoting import quote_units

Progress = Callable[[int, int, str], None]  # (files done, files total, current path)


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
    report = IngestReport()
    stored = _stored_documents(index)
    meta = index.metadata()
    # Vectors from another model or chunker cannot be mixed with ours: redo everything once.
    stale_all = bool(stored) and (
        meta.get("embedding_id") != embedding_id or meta.get("chunker_version") != CHUNKER_VERSION
    )

    jobs: list[tuple[Path, Path]] = []
    ingested_roots: list[str] = []
    for root in roots:
        root = root.resolve()
        if root.is_file():
            jobs.append((root.parent, root))
        elif root.is_dir():
            ingested_roots.append(str(root))
            jobs.extend((root, f) for f in iter_files(root))
        else:
            report.skipped.append({"path": str(root), "reason": "no such file or directory"})

    seen: set[tuple[str, str]] = set()
    for done, (root, path) in enumerate(jobs):
        if progress:
            progress(done, len(jobs), str(path))
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
        _write_document(index, embeddings, str(root), doc, previous, stale_all, report)
    if progress:
        progress(len(jobs), len(jobs), "")

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


def _write_document(
    index: ChromaIndex,
    embeddings: Embeddings,
    root: str,
    doc: Document,
    previous: dict[str, Any] | None,
    stale_all: bool,
    report: IngestReport,
) -> None:
    chunks = chunk_document(doc)
    old_ids: set[str] = set(previous["ids"]) if previous else set()
    keep = set() if stale_all else old_ids & {c.chunk_id for c in chunks}
    fresh = [c for c in chunks if c.chunk_id not in keep]
    units = {c.chunk_id: quote_units(c.text) for c in chunks}
    metas = {c.chunk_id: _chunk_meta(root, doc, c, len(units[c.chunk_id])) for c in chunks}
    if fresh:
        vectors = embeddings.embed_documents([c.embedding_text() for c in fresh])
        index.upsert(
            [c.chunk_id for c in fresh], vectors, [c.text for c in fresh],
            [metas[c.chunk_id] for c in fresh],
        )  # fmt: skip
        _write_units(index, embeddings, fresh, units)
    if keep:  # same text, but the title, link or order may have changed
        index.collection.update(ids=sorted(keep), metadatas=[metas[i] for i in sorted(keep)])
    index.delete(sorted(old_ids - {c.chunk_id for c in chunks}))
    report.documents += 1
    report.chunks += len(chunks)
    report.embedded += len(fresh)


def _write_units(
    index: ChromaIndex, embeddings: Embeddings, chunks: list[Chunk], units: dict[str, list[str]]
) -> None:
    """Embed each chunk's quotable units, under its heading path as the chunk itself is."""
    mine = {c.chunk_id: units[c.chunk_id] for c in chunks}
    texts = [embedding_text(c.section, u) for c in chunks for u in mine[c.chunk_id]]
    if texts:
        index.upsert_units(mine, embeddings.embed_documents(texts))


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
