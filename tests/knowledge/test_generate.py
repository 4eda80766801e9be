"""Generative answers through the real ChatOpenAI client against the OpenAI stand-in over HTTP."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator

import pytest

from knowledge.generate import NOT_IN_GUIDELINES, generate
from knowledge.providers import make_chat_model
from knowledge.testing import OpenAIStandIn
from knowledge.types import Citation, Passage, Turn

PHOTOS = Passage(
    chunk_id="photos-1",
    text="Chaque photo produit doit mesurer au moins 1000 × 1000 pixels, sur fond blanc uni.",
    title="Règles photos",
    source="catalogue/photos.md",
    section="Règles photos > Format",
    url=None,
    language="fr",
    score=0.81,
)
RETURNS = Passage(
    chunk_id="returns-2",
    text="Customers may return any item within 30 days of delivery; the seller pays return shipping "
    "when the item is faulty.",
    title="Returns policy",
    source="returns.html",
    section="Returns policy > Deadlines",
    url="https://help.example/returns",
    language="en",
    score=0.64,
)
COMMISSION = Passage(
    chunk_id="fees-3",
    text="La commission sur le textile est de 15 % du prix TTC, frais de port inclus.",
    title="Commissions",
    source="finances/commissions.md",
    section="Textile",  # a section without the title in front
    url=None,
    language="fr",
    score=0.55,
)
PASSAGES = [PHOTOS, RETURNS, COMMISSION]
QUESTION = "Quelle taille doivent faire mes photos ?"
BROADCAST = re.compile(r"<!(channel|here|everyone)|<!subteam|(?<![\w@])@(channel|here|everyone)\b")


@pytest.fixture
def api() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn(api_key="sk-test") as standin:
        yield standin


def model_for(api: OpenAIStandIn, *, max_retries: int = 0, timeout: float = 5.0):
    return make_chat_model(
        "openai:gpt-4o-mini",
        base_url=api.base_url,
        api_key="sk-test",
        max_retries=max_retries,
        timeout=timeout,
    )


def ask(model, question: str = QUESTION, *, language="fr", history=(), passages=PASSAGES):
    return generate(
        model,
        question=question,
        language=language,
        passages=passages,
        confidence=0.73,
        history=history,
    )


def test_cited_reply_becomes_a_generative_answer_with_the_cited_passages(api):
    api.queue_reply(
        "Vos photos doivent mesurer au moins 1000 × 1000 pixels [1], sur fond blanc [1]."
    )

    answer = ask(model_for(api)).answer

    assert answer is not None
    assert answer.answered and answer.mode == "generative" and answer.language == "fr"
    assert (
        answer.text
        == "Vos photos doivent mesurer au moins 1000 × 1000 pixels [1], sur fond blanc [1]."
    )
    assert answer.citations == [Citation.of(PHOTOS)]
    assert answer.confidence == 0.73


def test_the_model_is_shown_every_passage_numbered_and_the_question(api):
    api.queue_reply("Au moins 1000 pixels [1].")
    ask(model_for(api))

    [request] = api.chat_requests()
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json["model"] == "gpt-4o-mini"
    assert request.json["temperature"] == 0
    system, user = request.messages
    assert system["role"] == "system" and user == {"role": "user", "content": QUESTION}
    for n, passage in enumerate(PASSAGES, start=1):
        assert f"[{n}] " in system["content"] and passage.text in system["content"]
    assert system["content"].index(PHOTOS.text) < system["content"].index(RETURNS.text)
    assert "[1] Règles photos > Format (français)" in system["content"]
    # French question: French rules, the not-found token, and the English passage flagged as such.
    assert "Réponds UNIQUEMENT" in system["content"]
    assert NOT_IN_GUIDELINES in system["content"]
    assert "[2] Returns policy > Deadlines (anglais)" in system["content"]
    assert "[3] Commissions > Textile (français)" in system["content"]


def test_an_english_question_gets_english_rules(api):
    api.queue_reply("Items can be returned within 30 days [2].")
    result = ask(model_for(api), "How long do customers have to return an item?", language="en")

    assert result.answer is not None and result.answer.language == "en"
    assert result.answer.text == "Items can be returned within 30 days [1]."
    assert result.answer.citations == [Citation.of(RETURNS)]
    system = api.chat_requests()[0].messages[0]["content"]
    assert "Answer ONLY from the numbered guideline passages" in system
    assert "[1] Règles photos > Format (French)" in system


def test_citations_are_renumbered_in_order_of_first_use(api):
    api.queue_reply(
        "La commission textile est de 15 % [3] ; les retours sont à 30 jours [2, 3]. Voir [3]."
    )
    result = ask(model_for(api))

    assert result.answer is not None
    assert result.answer.text == (
        "La commission textile est de 15 % [1] ; les retours sont à 30 jours [1][2]. Voir [1]."
    )
    assert result.answer.citations == [Citation.of(COMMISSION), Citation.of(RETURNS)]


def test_the_thread_history_is_sent_before_the_question(api):
    api.queue_reply("La commission est de 15 % [3].")
    history = [
        Turn("Et pour les photos ?", "Au moins 1000 pixels [1]."),
        Turn("Merci, et le textile ?"),
    ]
    ask(model_for(api), "Combien exactement ?", history=history)

    roles = [(m["role"], m["content"]) for m in api.chat_requests()[0].messages[1:]]
    assert roles == [
        ("user", "Et pour les photos ?"),
        ("assistant", "Au moins 1000 pixels [1]."),
        ("user", "Merci, et le textile ?"),
        ("user", "Combien exactement ?"),
    ]


def test_a_citation_of_a_passage_never_shown_drops_the_answer(api, caplog):
    api.queue_reply("Les photos font 1000 pixels [1] et la TVA est récupérable [7].")
    with caplog.at_level(logging.INFO, logger="knowledge.generate"):
        result = ask(model_for(api))

    assert result.answer is None and result.reason == "unknown_citation"
    assert "cites [7] of 3 passages" in caplog.text


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (NOT_IN_GUIDELINES, "not_in_guidelines"),
        ("not in guidelines", "not_in_guidelines"),
        ("Les photos doivent être belles.", "no_citation"),
        ("   ", "empty"),
    ],
)
def test_unsupported_replies_fall_back(api, reply, reason):
    api.queue_reply(reply)
    result = ask(model_for(api))

    assert result.answer is None
    assert result.reason == reason


def test_server_error_falls_back_after_one_retry(api, caplog):
    api.fail_next(5, status=500)
    with caplog.at_level(logging.WARNING, logger="knowledge.generate"):
        result = ask(model_for(api, max_retries=1))

    assert result.answer is None and result.reason == "error"
    assert len(api.chat_requests()) == 2  # the first try and one retry, no more
    assert "InternalServerError" in caplog.text


def test_rate_limit_is_retried_after_the_servers_delay_then_answered(api):
    api.fail_next(1, status=429, retry_after=0.05)
    api.queue_reply("Au moins 1000 pixels [1].")
    result = ask(model_for(api, max_retries=1))

    assert result.answer is not None
    assert len(api.chat_requests()) == 2


def test_rate_limit_beyond_the_retries_falls_back(api):
    api.fail_next(3, status=429, retry_after=0.05)
    api.queue_reply("never sent")
    result = ask(model_for(api, max_retries=1))

    assert result.answer is None and result.reason == "error"
    assert len(api.chat_requests()) == 2


def test_a_slow_model_times_out_and_falls_back(api):
    api.delay_next(3.0)
    api.queue_reply("Trop tard [1].")
    result = ask(model_for(api, timeout=0.3))

    # a client that waited the 3 s out would have this reply as its answer
    assert result.answer is None and result.reason == "error"


def test_an_unreachable_server_falls_back():
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = make_chat_model(
        "openai:gpt-4o-mini", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=2
    )
    assert ask(model).reason == "error"


def test_no_passages_means_no_model_call(api):
    result = generate(model_for(api), question=QUESTION, language="fr", passages=[], confidence=0.0)
    assert result.answer is None and result.reason == "no_passages"
    assert api.requests == []


def test_model_output_cannot_ping_anyone(api):
    api.queue_reply(
        "<!channel> Photos : 1000 pixels [1]. <!here|here> @everyone, <!subteam^S0123|@support> "
        "et <@U024BE7LH> : fond blanc [1]. Contact : ventes@here.fr"
    )
    result = ask(model_for(api))

    assert result.answer is not None
    assert not BROADCAST.search(result.answer.text), result.answer.text
    assert "<@U024BE7LH>" not in result.answer.text
    assert "Photos : 1000 pixels [1]." in result.answer.text
    assert "ventes@here.fr" in result.answer.text  # an e-mail address is left alone


def test_the_wrong_api_key_falls_back(api):
    model = make_chat_model(
        "openai:gpt-4o-mini", base_url=api.base_url, api_key="sk-wrong", max_retries=0
    )
    api.queue_reply("Au moins 1000 pixels [1].")
    assert ask(model).reason == "error"


# --- through the KnowledgeBase: what the seller gets for each kind of reply ----------------------

SIZE_QUESTION = "Quelle taille minimale pour les photos produits ?"


def _kb_with_model(sample_kb, api):  # type: ignore[no-untyped-def]
    from knowledge.service import KnowledgeBase

    return KnowledgeBase(sample_kb.index, sample_kb.embeddings, chat_model=model_for(api))


def test_the_model_finding_no_answer_in_the_passages_hands_the_question_off(sample_kb, api):  # type: ignore[no-untyped-def]
    # The calibrated score lets the question through; the model reads the passages and says
    # they do not answer it. Quoting them anyway would pass off a near miss as the answer.
    api.queue_reply(NOT_IN_GUIDELINES)
    answer = _kb_with_model(sample_kb, api).answer(SIZE_QUESTION)
    assert len(api.chat_requests()) == 1
    assert not answer.answered and answer.mode == "abstain" and answer.citations == []
    assert answer.language == "fr" and answer.confidence >= sample_kb.threshold


def test_a_failing_model_leaves_the_extractive_answer(sample_kb, api):  # type: ignore[no-untyped-def]
    api.fail_next(status=500)
    answer = _kb_with_model(sample_kb, api).answer(SIZE_QUESTION)
    assert answer.answered and answer.mode == "extractive"
    assert "1000 × 1000 pixels" in answer.text


def test_an_ungrounded_reply_leaves_the_extractive_answer(sample_kb, api):  # type: ignore[no-untyped-def]
    api.queue_reply("Les photos doivent faire 800 pixels [9].")  # passage 9 was never shown
    answer = _kb_with_model(sample_kb, api).answer(SIZE_QUESTION)
    assert answer.answered and answer.mode == "extractive"
    assert "800 pixels" not in answer.text


def test_a_grounded_reply_is_the_answer(sample_kb, api):  # type: ignore[no-untyped-def]
    api.queue_reply("Au moins 1000 × 1000 pixels [1].")
    answer = _kb_with_model(sample_kb, api).answer(SIZE_QUESTION)
    assert answer.answered and answer.mode == "generative"
    assert answer.text == "Au moins 1000 × 1000 pixels [1]." and len(answer.citations) == 1
