"""manifest.yml asks for exactly the scopes and events the bot uses, no more."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot import slack_payloads as sp
from tests.bot.conftest import SHOP_FR, SQLITE_ONLY, Bot

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
# Slack's documented scope per Web API method and per event
METHOD_SCOPE = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "auth.test": None,
}
EVENT_SCOPE = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "app_mention": "app_mentions:read",
}


@SQLITE_ONLY
def test_manifest_scopes_are_the_ones_used(bot: Bot) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    bot.send(body)
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR))[0]
    qid = post.params["blocks"][-1]["elements"][0]["value"]
    bot.send(
        sp.block_actions(
            action_id="answer_human", value=qid, channel=SHOP_FR, message_ts=post.response["ts"]
        )
    )
    bot.slack.wait_for(lambda: bot.slack.updates())
    bot.close()

    used = {c.method for c in bot.slack.requests()}
    assert used <= set(METHOD_SCOPE), (
        f"a Web API method without a known scope: {used - set(METHOD_SCOPE)}"
    )
    needed = {METHOD_SCOPE[m] for m in used} - {None}
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed |= {EVENT_SCOPE[e] for e in events}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    assert set(events) == set(EVENT_SCOPE)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")
