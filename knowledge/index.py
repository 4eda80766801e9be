"""The Chroma collection that holds the chunks, embedded on disk or on a server.

Ingest bookkeeping (last ingest time, model, chunker version) lives in the
collection's own metadata, so several replicas against one Chroma server agree
on it without a shared disk.

A second collection, "<name>-units", holds the quotable units of every chunk
(its sentences and list items, see knowledge.quoting.quote_units), embedded at
ingest: the answer quotes the unit that means what was asked, and embedding them
at question time would cost more than the whole retrieval.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings

_BATCH = 500


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    text: str
    meta: dict[str, Any]
    embedding: Any = None  # numpy vector when asked for


def make_client(*, persist_dir: Path | None = None, chroma_url: str | None = None) -> Any:
    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        if not url.hostname:
            raise ValueError(f"not a Chroma server URL: {chroma_url!r}")
        ssl = url.scheme == "https"
        return chromadb.HttpClient(
            host=url.hostname, port=url.port or (443 if ssl else 8000), ssl=ssl, settings=settings
        )
    if persist_dir is None:
        raise ValueError("give persist_dir (embedded Chroma) or chroma_url (Chroma server)")
    persist_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(persist_dir), settings=settings)


class ChromaIndex:
    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name
        # We embed ourselves (embedding_function=None): Chroma's default would download a model.
        self.collection = client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self.units = client.get_or_create_collection(
            f"{name}-units", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def count(self) -> int:
        return int(self.collection.count())

    def metadata(self) -> dict[str, Any]:
        # Re-read: another replica may have ingested since we opened the collection.
        fresh = self.client.get_collection(self.name, embedding_function=None)
        return dict(fresh.metadata or {})

    def set_metadata(self, values: dict[str, Any]) -> None:
        merged = {**self.metadata(), **values}
        self.collection.modify(metadata={k: v for k, v in merged.items() if v is not None})

    def upsert(
        self,
        ids: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        texts: Sequence[str],
        metas: Sequence[dict[str, Any]],
    ) -> None:
        for i in range(0, len(ids), _BATCH):
            j = i + _BATCH
            self.collection.upsert(
                ids=list(ids[i:j]),
                embeddings=[list(e) for e in embeddings[i:j]],
                documents=list(texts[i:j]),
                metadatas=[_clean(m) for m in metas[i:j]],
            )

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), _BATCH):
            batch = list(ids[i : i + _BATCH])
            self.collection.delete(ids=batch)
            self.units.delete(where={"chunk_id": {"$in": batch}})

    def upsert_units(
        self, units: dict[str, list[str]], embeddings: Sequence[Sequence[float]]
    ) -> None:
        """Store chunks' units (ids "<chunk id>:<n>", in reading order); `embeddings` holds
        one vector per unit, chunk after chunk. A chunk id names its text, so its units
        never change under it: an upsert replaces them all."""
        ids = [unit_id(cid, n) for cid, texts in units.items() for n in range(len(texts))]
        docs = [text for texts in units.values() for text in texts]
        metas = [
            {"chunk_id": cid, "n": n} for cid, texts in units.items() for n in range(len(texts))
        ]
        for i in range(0, len(ids), _BATCH):
            j = i + _BATCH
            self.units.upsert(
                ids=ids[i:j],
                embeddings=[list(e) for e in embeddings[i:j]],
                documents=docs[i:j],
                metadatas=metas[i:j],  # type: ignore[arg-type]
            )

    def unit_vectors(self, counts: dict[str, int]) -> dict[str, tuple[list[str], np.ndarray]]:
        """Per chunk id, its units' texts and vectors in reading order, given how many it has.

        A chunk whose units are not all stored (an index written before units existed) is
        left out, so the caller falls back to choosing by words alone.
        """
        ids = [unit_id(cid, n) for cid, count in counts.items() for n in range(count)]
        if not ids:
            return {}
        page = self.units.get(ids=ids, include=["documents", "embeddings"])
        found = {
            uid: (text or "", vec)
            for uid, text, vec in zip(
                page["ids"], page.get("documents") or [], page.get("embeddings"), strict=True
            )
        }
        out: dict[str, tuple[list[str], np.ndarray]] = {}
        for cid, count in counts.items():
            rows = [found.get(unit_id(cid, n)) for n in range(count)]
            if count and all(r is not None for r in rows):
                texts = [r[0] for r in rows if r is not None]
                matrix = np.asarray([r[1] for r in rows if r is not None], dtype=np.float32)
                out[cid] = (texts, matrix)
        return out

    def all_chunks(
        self, *, with_text: bool = True, with_embeddings: bool = False
    ) -> Iterator[StoredChunk]:
        include = ["metadatas"]
        include += ["documents"] if with_text else []
        include += ["embeddings"] if with_embeddings else []
        total = self.count()
        for offset in range(0, total, 5000):
            page = self.collection.get(include=include, limit=5000, offset=offset)
            ids = page["ids"]
            docs = page.get("documents") or [""] * len(ids)
            vectors = page.get("embeddings")
            if vectors is None:
                vectors = [None] * len(ids)
            for cid, text, meta, vec in zip(ids, docs, page["metadatas"], vectors, strict=True):
                yield StoredChunk(cid, text or "", dict(meta or {}), vec)

    def query(
        self, embedding: Sequence[float], n: int, *, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first."""
        n = min(n, self.count())
        if n <= 0:
            return []
        res = self.collection.query(
            query_embeddings=[list(embedding)], n_results=n, where=where, include=["distances"]
        )
        return [
            (cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=True)
        ]


def unit_id(chunk_id: str, n: int) -> str:
    return f"{chunk_id}:{n}"


def _clean(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma metadata takes str/int/float/bool only; an absent value is an empty string."""
    return {k: ("" if v is None else v) for k, v in meta.items()}
