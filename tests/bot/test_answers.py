"""A seller asks in their channel; the bot answers in the thread, through the real endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot import slack_payloads as sp
from tests.bot.conftest import (
    ACCOUNT_MANAGER,
    COMMISSION_FR,
    SHOP_EN,
    SHOP_FR,
    SQLITE_ONLY,
    STRANGER,
    Bot,
    FakeAnswerer,
)


def _buttons(post_params: dict) -> list[dict]:
    return [e for b in post_params["blocks"] if b["type"] == "actions" for e in b["elements"]]


def _all_text(post_params: dict) -> str:
    return json.dumps(post_params, ensure_ascii=False)


def test_french_question_answered_in_thread_with_sources_and_buttons(bot: Bot) -> None:
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission sur la mode ?")
    ts = body["event"]["ts"]

    response = bot.send(body)

    assert response.status_code == 200
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR, thread_ts=ts))[0]
    text = _all_text(post.params)
    assert "12 %" in text
    assert "<https://help.example-market.fr/finances/commissions|Commissions et versements>" in text
    assert "Commissions &gt; Mode" in text  # section path, escaped like any guideline text
    labels = [b["text"]["text"] for b in _buttons(post.params)]
    assert labels == ["C'est résolu", "J'ai besoin d'un humain"]
    # the eyes came first and went away once the answer was out
    adds = bot.slack.reactions(timestamp=ts)
    assert [c.get("name") for c in adds] == ["eyes"]
    bot.slack.wait_for(lambda: bot.slack.reactions(added=False, timestamp=ts))
    order = [c.method for c in bot.slack.calls() if c.method != "auth.test"]
    assert order == ["reactions.add", "chat.postMessage", "reactions.remove"]

    [question] = bot.questions()
    assert question.answered and question.mode == "extractive" and question.language == "fr"
    assert question.confidence == 0.82
    assert question.citations[0]["source"] == "finances/commissions-versements.md"
    assert question.answer_text and "12 %" in question.answer_text
    assert bot.event_status(body["event_id"]) == "answered"


@SQLITE_ONLY  # formatting and filtering: the database plays no part
def test_english_seller_gets_english_buttons(bot: Bot) -> None:
    body = sp.message_event(channel=SHOP_EN, text="What size must product photos be?")
    bot.send(body)
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_EN))[0]
    assert [b["text"]["text"] for b in _buttons(post.params)] == ["Resolved", "I need a human"]
    assert "1. Product photos · _Size_" in _all_text(post.params)  # no URL: title alone, no link


@SQLITE_ONLY  # formatting and filtering: the database plays no part
def test_ui_follows_the_directory_language_and_text_the_question_language(bot: Bot) -> None:
    # an English-speaking seller writing in French: French answer, English chrome
    body = sp.message_event(channel=SHOP_EN, text="Quelle commission sur la mode ?")
    bot.send(body)
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_EN))[0]
    assert "La commission est de 12 %" in post.params["text"]
    assert [b["text"]["text"] for b in _buttons(post.params)] == ["Resolved", "I need a human"]
    assert "*Sources*" in _all_text(post.params)


@SQLITE_ONLY  # formatting and filtering: the database plays no part
def test_abstention_is_honest_and_promises_a_human(bot: Bot) -> None:
    body = sp.message_event(channel=SHOP_FR, text="Est-ce que vous livrez sur Mars ?")
    bot.send(body)
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR))[0]
    assert "Je ne trouve pas de réponse sûre" in post.params["text"]
    assert "équipe support va prendre le relais" in post.params["text"]
    assert _buttons(post.params) == []
    [question] = bot.questions()
    assert not question.answered and question.mode == "abstain"
    assert bot.event_status(body["event_id"]) == "abstained"


def test_follow_up_in_thread_gets_earlier_exchange_as_context(
    start_bot: Callable[..., Bot],
) -> None:
    answerer = FakeAnswerer(answers={"commission": COMMISSION_FR, "textile": COMMISSION_FR})
    bot = start_bot(answerer=answerer)
    first = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    root = first["event"]["ts"]
    bot.send(first)
    bot.slack.wait_for(lambda: bot.slack.posts(thread_ts=root))

    follow = sp.message_event(channel=SHOP_FR, text="Et pour le textile ?", thread_ts=root)
    bot.send(follow)
    posts = bot.slack.wait_for(
        lambda: len(bot.slack.posts(thread_ts=root)) == 2 and bot.slack.posts(thread_ts=root)
    )

    assert len(posts) == 2  # same thread, not a new one
    question, history = answerer.asked[-1]
    assert question == "Et pour le textile ?"
    assert [(t.question, t.answer) for t in history] == [
        ("Quelle est la commission ?", "La commission est de 12 % du prix TTC pour la mode [1].")
    ]
    assert [q.thread_ts for q in bot.questions()] == [root, root]


def test_thank_you_is_recorded_and_gets_no_reply(bot: Bot) -> None:
    first = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    root = first["event"]["ts"]
    bot.send(first)
    bot.slack.wait_for(lambda: bot.slack.posts(thread_ts=root))
    thanks = [
        sp.message_event(channel=SHOP_FR, text=t, thread_ts=root)
        for t in ("merci !", "top merci 👍", "Thanks a lot :pray:")
    ]
    for body in thanks:
        bot.send(body)
    for body in thanks:
        bot.wait_event(body["event_id"], "thanks")
    # a question after the thanks is still answered: the listener did not stall
    later = sp.message_event(
        channel=SHOP_FR, text="merci, et la commission textile ?", thread_ts=root
    )
    bot.send(later)
    bot.wait_event(later["event_id"], "answered")
    posts = bot.slack.wait_for(
        lambda: len(bot.slack.posts(thread_ts=root)) >= 2 and bot.slack.posts(thread_ts=root)
    )
    assert len(posts) == 2
    assert [q.mode for q in bot.questions()].count("thanks") == 3


@SQLITE_ONLY  # formatting and filtering: the database plays no part
def test_message_in_unknown_channel_is_logged_not_answered(bot: Bot, caplog) -> None:
    caplog.set_level("INFO", logger="bot")
    body = sp.message_event(channel=STRANGER, text="Quelle est la commission ?")
    assert bot.send(body).status_code == 200
    row = bot.wait_event(body["event_id"], "unknown_channel")
    assert STRANGER in (row.note or "")
    assert bot.questions() == []
    assert any(STRANGER in r.getMessage() for r in caplog.records)
    assert [c.method for c in bot.slack.requests() if c.method != "auth.test"] == []


@SQLITE_ONLY  # formatting and filtering: the database plays no part
def test_bots_edits_deletions_joins_and_staff_are_not_answered(bot: Bot) -> None:
    root = sp.new_ts()
    bodies = {
        "other bot": sp.message_event(
            channel=SHOP_FR,
            text="Quelle est la commission ?",
            subtype="bot_message",
            bot_id="B0OTHER01",
            user=None,
        ),
        "our own post": sp.message_event(
            channel=SHOP_FR,
            text="La commission est…",
            user=sp.BOT_USER_ID,
            bot_id="B0COMPTOIRBOT",
            thread_ts=root,
        ),
        "edit": sp.message_changed_event(
            channel=SHOP_FR, ts=root, new_text="Quelle commission ?", old_text="Quelle comission ?"
        ),
        "deletion": sp.envelope(
            {
                "type": "message",
                "subtype": "message_deleted",
                "hidden": True,
                "channel": SHOP_FR,
                "ts": sp.new_ts(),
                "deleted_ts": root,
                "event_ts": sp.new_ts(),
                "channel_type": "channel",
            }
        ),
        "join": sp.message_event(
            channel=SHOP_FR,
            text="<@U0NEWUSER> a rejoint le canal",
            user="U0NEWUSER",
            subtype="channel_join",
        ),
        "staff": sp.message_event(
            channel=SHOP_FR,
            text="Je regarde votre commission",
            user=ACCOUNT_MANAGER,
            thread_ts=root,
        ),
    }
    for body in bodies.values():
        assert bot.send(body).status_code == 200
    # a real question afterwards proves the listener had time to see (and skip) the others
    real = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    bot.send(real)
    bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR))
    for name in ("other bot", "edit", "deletion", "join", "staff"):
        status = bot.wait_event(bodies[name]["event_id"], "ignored", "staff").status
        assert status in {"ignored", "staff"}, name
    # our own post never reaches a listener (Bolt drops it), so it leaves no trace at all
    assert bot.event_status(bodies["our own post"]["event_id"]) is None
    assert len(bot.slack.posts(channel=SHOP_FR)) == 1
    assert [q.text for q in bot.questions()] == ["Quelle est la commission ?"]


@SQLITE_ONLY  # formatting and filtering: the database plays no part
def test_screenshot_with_the_question_is_read_and_kept(bot: Bot) -> None:
    screenshot = sp.file_object("erreur-import.png", title="Erreur import catalogue")
    body = sp.message_event(
        channel=SHOP_FR, text="Quelle commission sur ce produit ?", files=[screenshot]
    )
    assert body["event"]["subtype"] == "file_share"
    bot.send(body)
    bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR, thread_ts=body["event"]["ts"]))
    [question] = bot.questions()
    assert question.files[0]["name"] == "erreur-import.png"
    assert question.files[0]["title"] == "Erreur import catalogue"


def test_mention_and_its_message_twin_give_one_answer(bot: Bot) -> None:
    ts = sp.new_ts()
    mention = sp.app_mention_event(
        channel=SHOP_FR, text=f"<@{sp.BOT_USER_ID}> Quelle est la commission ?", ts=ts
    )
    message = sp.message_event(
        channel=SHOP_FR, text=f"<@{sp.BOT_USER_ID}> Quelle est la commission ?", ts=ts
    )
    bot.send(mention)
    bot.send(message)
    statuses = {
        bot.wait_event(mention["event_id"], "answered", "twin").status,
        bot.wait_event(message["event_id"], "answered", "twin").status,
    }
    assert statuses == {"answered", "twin"}
    bot.slack.wait_for(lambda: bot.slack.reactions(added=False, timestamp=ts))
    assert len(bot.slack.posts(channel=SHOP_FR, thread_ts=ts)) == 1
    [question] = bot.questions()
    assert question.text == "Quelle est la commission ?"  # the mention is not part of the question
