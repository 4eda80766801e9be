"""manifest.yml asks for exactly the scopes and events the bot uses, no more."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot import slack_payloads as sp
from bot.outbox import Outbox
from bot.slack_standin import UPLOAD_URL_METHOD, SlackStandin
from routing import outbox_store
from routing.db import transaction, utcnow
from tests.bot.conftest import SHOP_FR, SHOP_NO_AM, SQLITE_ONLY, TRIAGE, Bot

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
# Slack's documented scope per Web API method and per event (None: no scope needed)
METHOD_SCOPE = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "views.publish": None,
    "auth.test": None,
}
# the account managers' digest: a DM opened for the chart, uploaded in Slack's three steps
DIGEST_METHOD_SCOPE = {
    "conversations.open": "im:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
# looking for a post whose outcome was lost before sending it again (bot.outbox): each method
# needs the history scope of the conversation it reads, and the bot posts in public and private
# channels and in DMs; never in a group DM, so mpim:history is not asked for
LOOKUP_METHOD_SCOPES = {
    "conversations.history": {"channels:history", "groups:history", "im:history"},
    "conversations.replies": {"channels:history", "groups:history", "im:history"},
    "conversations.open": {"im:write"},  # a DM's D… id, to read it
    "auth.test": set(),  # which messages are this app's
}
# only with COMPTOIR_STAFF_USERGROUP: documented in the manifest, not in its default scopes
OPTIONAL_METHOD_SCOPE = {"usergroups.users.list": "usergroups:read"}
EVENT_SCOPE = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "app_mention": "app_mentions:read",
    "app_home_opened": None,
}
COMMAND_SCOPE = "commands"


@SQLITE_ONLY
def test_manifest_scopes_are_the_ones_used(bot: Bot) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    # every surface once: an answer and its hand-off, a Level 3 with a DM, a refused click,
    # the Home tab and the slash command
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
    bot.send(sp.message_event(channel=SHOP_NO_AM, text="Mon compte est suspendu"))
    ticket = bot.wait_ticket(lambda t: t.triage_ts is not None)
    bot.send(
        sp.block_actions(
            action_id="ticket_claim",
            value=str(ticket.id),
            channel=TRIAGE,
            message_ts=str(ticket.triage_ts),
            user="U0SELLER1",
        )
    )
    bot.send(sp.app_home_opened(user="U0SELLER1"))
    assert bot.send(sp.slash_command(text="queue", user="U0SELLER1")).status_code == 200
    bot.slack.wait_for(lambda: bot.slack.calls("views.publish") and bot.slack.ephemerals())
    bot.close()

    used = {c.method for c in bot.slack.requests()}
    assert used == set(METHOD_SCOPE), f"unexpected or unused methods: {used ^ set(METHOD_SCOPE)}"
    needed = {METHOD_SCOPE[m] for m in used} - {None}
    needed |= set(DIGEST_METHOD_SCOPE.values())
    needed |= set().union(*LOOKUP_METHOD_SCOPES.values())
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed |= {EVENT_SCOPE[e] for e in events} - {None}
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/comptoir"]
    needed.add(COMMAND_SCOPE)
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    # no staff user group configured: the group is never read and its scope is not asked for
    assert not used & set(OPTIONAL_METHOD_SCOPE)
    assert not set(OPTIONAL_METHOD_SCOPE.values()) & needed
    assert set(events) == set(EVENT_SCOPE)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert commands[0]["url"].endswith("/slack/events")


def test_the_digest_chart_needs_exactly_its_two_scopes(slack: SlackStandin) -> None:
    """Opening the DM and uploading the chart use the methods the manifest grants."""
    from bot.perf_posting import open_dm, upload_file
    from bot.settings import Settings
    from bot.wiring import slack_client

    client = slack_client(
        Settings(_env_file=None, slack_bot_token=slack.token, slack_api_url=slack.url)  # type: ignore[call-arg]
    )
    channel = open_dm(client, "U0ACCTMGR1")
    file_id = upload_file(client, data=b"\x89PNG\r\n\x1a\n", filename="chart.png")
    client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=channel)
    # the bytes go to the upload URL Slack hands out, which is no API method and needs no scope
    used = {c.method for c in slack.calls()} - {UPLOAD_URL_METHOD}
    assert used == set(DIGEST_METHOD_SCOPE), used
    scopes = set(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])
    assert set(DIGEST_METHOD_SCOPE.values()) <= scopes


@SQLITE_ONLY
def test_looking_for_a_lost_post_needs_exactly_the_history_scopes(
    slack: SlackStandin, session_factory: sessionmaker[Session]
) -> None:
    """A post in a channel, in a thread and in a DM, each timed out after Slack took it: the
    lookups before posting again use the methods LOOKUP_METHOD_SCOPES lists, granted."""
    client = WebClient(
        token=slack.token,
        base_url=slack.url,
        timeout=0.3,  # type: ignore[arg-type]  # urllib takes fractions of a second
        retry_handlers=[],
    )
    outbox = Outbox(session_factory, client)
    t0 = utcnow()
    with transaction(session_factory) as s:
        for payload in (
            {"channel": TRIAGE, "text": "card"},
            {"channel": TRIAGE, "thread_ts": "1765000000.000100", "text": "alert"},
            {"channel": "U0LEAD00001", "text": "Level 3"},
        ):
            outbox_store.enqueue(
                s, method="chat.postMessage", payload=payload, ordering_key=None, now=t0
            )
    slack.slow_next(3, seconds=1.0, methods=["chat.postMessage"])
    assert outbox.deliver_due(now=t0).retried == 3
    slack.wait_for(lambda: len(slack.posts()) == 3)
    assert outbox.deliver_due(now=t0 + timedelta(seconds=5)).sent == 3
    assert len(slack.requests("chat.postMessage")) == 3  # found, not posted again

    used = {c.method for c in slack.requests()} - {"chat.postMessage"}
    assert used == set(LOOKUP_METHOD_SCOPES), used
    scopes = set(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])
    assert set().union(*LOOKUP_METHOD_SCOPES.values()) <= scopes
    assert "mpim:history" not in scopes


def test_the_staff_usergroup_scope_is_documented_as_optional() -> None:
    """Operators who set COMPTOIR_STAFF_USERGROUP learn from the manifest which scope to add;
    the bot's use of it with the setting on is in tests/bot/test_staff_groups.py."""
    text = MANIFEST.read_text()
    scopes = set(yaml.safe_load(text)["oauth_config"]["scopes"]["bot"])
    for method, scope in OPTIONAL_METHOD_SCOPE.items():
        assert scope not in scopes
        note = next(line for line in text.splitlines() if f"- {scope}" in line)
        assert note.lstrip().startswith("#") and method in note
    assert "COMPTOIR_STAFF_USERGROUP" in text
