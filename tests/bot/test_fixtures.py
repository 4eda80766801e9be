"""Payloads shaped exactly as Slack sends them (kept as JSON fixtures) go through the endpoint."""

from __future__ import annotations

from sqlalchemy import select

from bot import slack_payloads as sp
from routing.models import Feedback
from tests.bot.conftest import SECRET, SHOP_EN, SHOP_FR, SQLITE_ONLY, Bot, load_fixture


@SQLITE_ONLY  # the shapes matter here; test_delivery covers both databases
def test_recorded_file_share_edit_mention_and_click(bot: Bot) -> None:
    shared = load_fixture("message_file_share.json")
    assert bot.send(shared).status_code == 200
    bot.wait_event(shared["event_id"], "answered")
    [question] = bot.questions()
    assert question.files[0]["title"] == "Erreur import catalogue"
    assert question.files[0]["name"].startswith("Capture d’écran")
    assert "url_private" not in question.files[0]  # links to the file are not copied around

    edit = load_fixture("message_changed.json")
    bot.send(edit)
    assert bot.wait_event(edit["event_id"], "ignored").note == "subtype message_changed"

    mention, twin = load_fixture("app_mention.json"), load_fixture("message_mention_twin.json")
    bot.send(twin)
    bot.send(mention)
    bot.wait_event(mention["event_id"], "answered", "twin")
    bot.wait_event(twin["event_id"], "answered", "twin")
    root = mention["event"]["ts"]
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_EN, thread_ts=root))[0]

    click = load_fixture("block_actions_human.json")
    qid = post.params["blocks"][-1]["elements"][1]["value"]
    click["container"]["message_ts"] = click["message"]["ts"] = post.response["ts"]
    click["actions"][0]["value"] = qid
    assert sp.deliver(bot.url, click, SECRET).status_code == 200
    bot.slack.wait_for(lambda: len(bot.slack.posts(channel=SHOP_EN, thread_ts=root)) == 2)
    with bot.factory() as s:
        assert [(f.kind, f.user_id) for f in s.scalars(select(Feedback))] == [
            ("human", "U07SELLER02")
        ]
    assert len(bot.slack.posts(channel=SHOP_FR)) == 1
