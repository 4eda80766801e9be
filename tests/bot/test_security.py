"""Nothing forged gets in; nothing a seller or a guideline wrote pings a channel."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot import slack_payloads as sp
from bot.settings import SettingsError
from bot.slack_standin import SlackStandin
from bot.wiring import build_runtime
from knowledge.types import Answer, Citation, Turn
from routing.models import Question, SlackEvent
from tests.bot.conftest import SECRET, SHOP_FR, SQLITE_ONLY, Bot, make_settings

HOSTILE = "<!channel> <!here> <!everyone> <!subteam^S0TEAM1|@support> <@U0CEO0001> & co"


class EchoAnswerer:
    """Repeats the question and quotes a hostile guideline passage, as a careless LLM might."""

    def answer(self, question: str, *, history: Sequence[Turn] = ()) -> Answer:
        return Answer(
            answered=True,
            language="fr",
            text=f"Vous demandez : {question}\nLe guide dit : {HOSTILE}",
            confidence=0.9,
            citations=[
                Citation(
                    title="<!channel> Commissions",
                    source="finances/x.md",
                    section="<!here> > Frais",
                    score=0.8,
                    url="https://evil.example/a|<!channel>",
                )
            ],
        )


@SQLITE_ONLY
def test_hostile_text_in_question_and_guideline_cannot_ping(start_bot: Callable[..., Bot]) -> None:
    bot = start_bot(answerer=EchoAnswerer())
    body = sp.message_event(channel=SHOP_FR, text=f"{HOSTILE} quelle commission ?")
    bot.send(body)
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR))[0]
    # whatever Slack received, on any method, holds no special mention sequence
    for call in bot.slack.requests():
        sent = json.dumps(call.params, ensure_ascii=False)
        assert "<!" not in sent and "<@" not in sent, (call.method, sent)
    shown = json.dumps(post.params, ensure_ascii=False)
    assert "&lt;!channel&gt;" in shown and "&lt;!subteam^S0TEAM1|@support&gt;" in shown
    assert "&amp; co" in shown
    assert "evil.example" not in shown  # a URL that could break out of its link is dropped


@SQLITE_ONLY
def test_forged_signature_gets_401_and_nothing_is_stored(bot: Bot) -> None:
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    response = sp.deliver(bot.url, body, "not-the-signing-secret")
    assert response.status_code == 401
    # a body changed after Slack signed it (same headers) is refused too
    original, kind = sp.encode(body)
    headers = {"Content-Type": kind, **sp.signed_headers(original, SECRET)}
    tampered = original.replace("commission", "suspension")
    response = httpx.post(bot.url + "/slack/events", content=tampered, headers=headers)
    assert response.status_code == 401
    assert bot.send(body).status_code == 200  # control: the untouched, signed body passes
    forged_click = sp.block_actions(
        action_id="answer_resolved", value="1", channel=SHOP_FR, message_ts=sp.new_ts()
    )
    assert sp.deliver(bot.url, forged_click, "wrong").status_code == 401
    bot.close()  # waits for listeners: only the correctly signed request left a row
    with bot.factory() as s:
        assert s.scalar(select(func.count()).select_from(SlackEvent)) == 1


@SQLITE_ONLY
def test_unsigned_bad_bodies_get_the_same_400_or_413_as_signed_ones(bot: Bot) -> None:
    """Size and shape are checked before Bolt checks the signature (bot.http_guard says why):
    an unsigned malformed body gets 400, not 401, and the very reply a signed one gets, so the
    reply says nothing about the secret; an unsigned well-formed body still gets 401."""
    url = bot.url + "/slack/events"
    bad = [
        (b"[1, 2]", "application/json", 400),
        (b"payload=nope", "application/x-www-form-urlencoded", 400),
        (b"{" * (5 * 1024 * 1024), "application/json", 413),
    ]
    for body, kind, status in bad:
        replies = []
        for secret in (None, "not-the-signing-secret", SECRET):
            signed = sp.signed_headers(body.decode(), secret) if secret else {}
            response = httpx.post(url, content=body, headers={"Content-Type": kind, **signed})
            replies.append((response.status_code, response.content))
        assert replies == [replies[2]] * 3 and replies[2][0] == status, replies
    well_formed = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert sp.deliver(bot.url, well_formed, "not-the-signing-secret").status_code == 401
    bot.close()
    with bot.factory() as s:
        assert s.scalar(select(func.count()).select_from(SlackEvent)) == 0


@SQLITE_ONLY
def test_stale_request_gets_401(bot: Bot) -> None:
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    six_minutes_ago = int(time.time()) - 6 * 60
    assert bot.send(body, timestamp=six_minutes_ago).status_code == 401
    four_minutes_ago = int(time.time()) - 4 * 60
    assert bot.send(body, timestamp=four_minutes_ago).status_code == 200
    bot.wait_event(body["event_id"], "answered")


@SQLITE_ONLY
def test_missing_signature_headers_get_401(bot: Bot) -> None:
    body, kind = sp.encode(sp.message_event(channel=SHOP_FR, text="Quelle commission ?"))
    response = httpx.post(bot.url + "/slack/events", content=body, headers={"Content-Type": kind})
    assert response.status_code == 401
    bot.close()
    assert bot.questions() == []


@SQLITE_ONLY
def test_health_and_unknown_paths(bot: Bot) -> None:
    health = httpx.get(bot.url + "/healthz")
    assert health.status_code == 200 and health.json() == {"ok": True}
    assert httpx.get(bot.url + "/nothing-here").status_code == 404


@pytest.mark.parametrize(
    ("variable", "overrides"),
    [
        ("COMPTOIR_SLACK_SIGNING_SECRET", {"slack_signing_secret": "changeme"}),
        ("COMPTOIR_SLACK_BOT_TOKEN", {"slack_bot_token": "xoxb-your-token"}),
        ("COMPTOIR_SLACK_BOT_TOKEN", {"slack_bot_token": None}),
    ],
)
def test_placeholder_or_missing_secret_refused_before_touching_anything(
    variable: str, overrides: dict, tmp_path: Path
) -> None:
    db = tmp_path / "never.db"
    with SlackStandin() as slack:
        settings = make_settings(f"sqlite:///{db}", slack, tmp_path, **overrides)
        with pytest.raises(SettingsError, match=variable):
            build_runtime(settings)
        assert slack.requests() == []  # not even auth.test
    assert not db.exists()  # refused before migrating


def test_serve_command_refuses_placeholder_secret(tmp_path: Path) -> None:
    from bot.cli import app

    env = {
        "COMPTOIR_DATA_DIR": str(tmp_path),
        "COMPTOIR_SLACK_BOT_TOKEN": "xoxb-real-looking-1234",
        "COMPTOIR_SLACK_SIGNING_SECRET": "placeholder",
    }
    result = CliRunner().invoke(app, ["serve", "--port", "0"], env=env)
    assert result.exit_code != 0
    assert isinstance(result.exception, SettingsError)
    assert "COMPTOIR_SLACK_SIGNING_SECRET" in str(result.exception)
    result = CliRunner().invoke(
        app, ["serve", "--socket"], env={**env, "COMPTOIR_SLACK_SIGNING_SECRET": "s3cr3t-value"}
    )
    assert "COMPTOIR_SLACK_APP_TOKEN" in str(result.exception)


@SQLITE_ONLY
def test_every_question_and_answer_is_stored(bot: Bot) -> None:
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    bot.send(body)
    bot.wait_event(body["event_id"], "answered")
    with bot.factory() as s:
        q = s.scalars(select(Question)).one()
    assert (q.seller_id, q.user_id, q.message_ts) == ("S-FR", "U0SELLER1", body["event"]["ts"])
    assert q.answered_at is not None and q.answered_at.tzinfo is not None
