"""Oversized or malformed input costs nobody else anything (issue 9, item 5).

Everything goes through the real endpoint, signed with the test secret as Slack would sign
it: a body Slack could not have sent is refused at the door (413 too large, 400 malformed)
with one log line and no traceback, and nothing is stored; an overlong message is answered
once, on its first COMPTOIR_MAX_MESSAGE_CHARS characters, and the seller is told so; odd
`files` entries and ids that are not ids are skipped with a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from bot import blocks
from bot import slack_payloads as sp
from bot import ticket_blocks as tb
from bot.http_guard import MAX_BODY_BYTES
from bot.listeners.parsing import MAX_MESSAGE_CHARS
from bot.slack_standin import SlackStandin
from bot.wiring import build_runtime
from routing.models import Feedback, InboxEvent, Question, SlackEvent, TicketEvent
from tests.bot.conftest import (
    AGENT,
    COMMISSION_FR,
    PHOTOS_EN,
    SECRET,
    SHOP_EN,
    SHOP_FR,
    SQLITE_ONLY,
    TRIAGE,
    Bot,
    FakeAnswerer,
    FakeClassifier,
    make_settings,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def signed_post(
    bot: Bot,
    body: bytes,
    content_type: str | None,
    *,
    secret: str | None = SECRET,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST raw bytes to the endpoint, signed over exactly those bytes (as Slack signs)."""
    sent = dict(headers or {})
    if content_type is not None:
        sent["Content-Type"] = content_type
    if secret is not None:
        ts = str(int(time.time()))
        mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
        sent |= {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac.hexdigest()}
    return httpx.post(bot.url + "/slack/events", content=body, headers=sent, timeout=30)


def stored_rows(bot: Bot) -> dict[str, int]:
    with bot.factory() as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (SlackEvent, InboxEvent, Question, Feedback, TicketEvent)
        }


NOTHING = {"slack_events": 0, "slack_inbox": 0, "questions": 0, "feedback": 0, "ticket_events": 0}


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured record that carries a traceback (waitress's 500, Bolt's error, ...)."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.exc_info or r.exc_text or "Traceback" in r.getMessage()
    ]


def guard_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.http_guard"]


@pytest.fixture
def quiet_bot(start_bot: Callable[..., Bot]) -> Bot:
    """The bot with its inbox worker off: a body that got past the door would stay visible
    in the inbox (nothing answers it away)."""
    return start_bot(inbox=False, worker=False)


MESSAGE = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
CLICK = sp.block_actions(action_id="answer_resolved", value="1", channel=SHOP_FR, message_ts="1.2")

# (name, body, content type, expected status): every one signed with the right secret.
BAD_BODIES: list[tuple[str, bytes, str | None, int]] = [
    ("malformed JSON", b'{"type": "event_callback", "event": {"type": "mess', JSON, 400),
    ("a JSON array", json.dumps([MESSAGE]).encode(), JSON, 400),
    ("JSON null", b"null", JSON, 400),
    ("a JSON string", b'"hello"', JSON, 400),
    ("an empty body", b"", JSON, 400),
    ("not UTF-8", b'{"text": "caf\xe9"}', JSON, 400),
    ("a form whose payload is not JSON", b"payload=%7Bnot+json", FORM, 400),
    ("a form whose payload is a JSON array", urlencode({"payload": "[1, 2]"}).encode(), FORM, 400),
    ("a form whose payload is null", b"payload=null", FORM, 400),
    ("a form with no payload and no command", b"token=x&team_id=T1&text=hi", FORM, 400),
    # Bolt reads a body starting with "{" as JSON whatever its content type says
    ("a form-typed body that is broken JSON", b'{"payload": ', FORM, 400),
    ("a content type Slack never sends", json.dumps(MESSAGE).encode(), "text/plain", 400),
    ("an event that is not an object", json.dumps({**MESSAGE, "event": "x"}).encode(), JSON, 400),
    (
        "actions that are not a list of objects",
        urlencode({"payload": json.dumps({**CLICK, "actions": "x"})}).encode(),
        FORM,
        400,
    ),
]


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_a_malformed_signed_body_gets_400_one_line_and_nothing_stored(
    quiet_bot: Bot,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str | None,
    status: int,
) -> None:
    caplog.set_level(logging.INFO)
    response = signed_post(quiet_bot, body, content_type)
    assert response.status_code == status, response.text
    # a short reason, nothing about the server (no stack, no paths, no versions)
    assert len(response.text) < 120 and "Traceback" not in response.text
    assert response.json()["error"]
    quiet_bot.close()
    assert tracebacks(caplog) == []
    assert len(guard_lines(caplog)) == 1, guard_lines(caplog)
    assert stored_rows(quiet_bot) == NOTHING


@SQLITE_ONLY
def test_the_well_formed_neighbours_of_the_table_still_pass(quiet_bot: Bot) -> None:
    """Control for the table: what Slack really sends is not refused by the door."""
    assert quiet_bot.send(MESSAGE).status_code == 200  # JSON event
    assert quiet_bot.send(CLICK).status_code == 200  # form with a JSON-object payload
    command = sp.slash_command(text="queue", user=AGENT)  # form with `command`, no payload
    assert quiet_bot.send(command).status_code == 200
    ssl_check = signed_post(quiet_bot, b"ssl_check=1&token=x", FORM)
    assert ssl_check.status_code == 200  # Slack's certificate probe for slash commands
    charset = signed_post(quiet_bot, json.dumps(MESSAGE).encode(), JSON + "; charset=utf-8")
    assert charset.status_code == 200
    quiet_bot.close()
    assert stored_rows(quiet_bot)["slack_inbox"] == 1  # the message; its retry adds nothing


@SQLITE_ONLY
def test_a_body_over_the_limit_gets_413_without_reaching_bolt(
    quiet_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    # a valid, signed message event padded just over the limit: the size alone decides
    event = sp.message_event(channel=SHOP_FR, text="x")
    padding = MAX_BODY_BYTES - len(json.dumps(event).encode()) + 1
    event["event"]["text"] = "x" * (padding + 1)
    body = json.dumps(event).encode()
    assert len(body) == MAX_BODY_BYTES + 1
    response = signed_post(quiet_bot, body, JSON)
    assert response.status_code == 413
    # the same bytes with no Content-Length (chunked): the bytes read decide
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    chunked = httpx.post(
        quiet_bot.url + "/slack/events",
        content=chunks,
        headers={
            "Content-Type": JSON,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0=" + mac.hexdigest(),
        },
        timeout=30,
    )
    assert chunked.status_code == 413
    # one byte less is a body Slack could send: accepted
    event["event"]["text"] = "x" * padding
    assert signed_post(quiet_bot, json.dumps(event).encode(), JSON).status_code == 200
    quiet_bot.close()
    assert tracebacks(caplog) == []
    # waitress itself refuses both before buffering them (max_request_body_size), so the
    # guard behind it never sees them; it stays for servers that would pass them on
    assert stored_rows(quiet_bot)["slack_inbox"] == 1  # only the one within the limit


def raw_exchange(url: str, request: bytes) -> bytes:
    """Send bytes on one connection, return everything the server answers until it closes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


@SQLITE_ONLY
def test_a_content_length_that_lies_low_reads_only_what_it_declared(
    quiet_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A Content-Length shorter than the body: the server reads what it declared (a cut JSON
    text, refused as malformed) and what follows is not a request; never a 500."""
    body = json.dumps(sp.message_event(channel=SHOP_FR, text="Quelle commission ?")).encode()
    headers = sp.signed_headers(body.decode(), SECRET)
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "Content-Length: 40\r\n\r\n"
    ).encode()
    answer = raw_exchange(quiet_bot.url, head + body)
    statuses = [line.split()[1] for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.")]
    assert statuses[0] == b"400", answer[:300]
    assert b"500" not in statuses
    quiet_bot.close()
    assert tracebacks(caplog) == []
    assert stored_rows(quiet_bot) == NOTHING


# --- overlong messages: answered once, on the first MAX_MESSAGE_CHARS characters ---------


def _long_text(size: int) -> str:
    line = "Bonjour, quelle est la commission sur mes ventes de robes ce mois-ci ? "
    return (line * (size // len(line) + 1))[:size]


@pytest.mark.parametrize("size", [40_000, 1_000_000], ids=["40k chars", "1 MB"])
def test_an_overlong_message_is_answered_once_on_its_start_and_the_seller_is_told(
    start_bot: Callable[..., Bot], caplog: pytest.LogCaptureFixture, size: int
) -> None:
    answerer, classifier = FakeAnswerer(answers={"commission": COMMISSION_FR}), FakeClassifier()
    bot = start_bot(answerer=answerer, classifier=classifier)
    text = _long_text(size)
    body = sp.message_event(channel=SHOP_FR, text=text)
    assert bot.send(body, timeout=60).status_code == 200
    bot.wait_event(body["event_id"], "answered", timeout=60)
    bot.slack.wait_for(lambda: len(bot.slack.posts(channel=SHOP_FR)) >= 2)
    bot.close()
    # the classifier and the answerer saw the start of the message, never more
    assert len(classifier.seen) == 1 and len(answerer.asked) == 1
    assert 0 < len(classifier.seen[0]) <= MAX_MESSAGE_CHARS
    assert 0 < len(answerer.asked[0][0]) <= MAX_MESSAGE_CHARS
    assert text.startswith(answerer.asked[0][0])
    # the whole message is kept as the seller wrote it
    [question] = bot.questions()
    assert len(question.text) == len(text.strip())
    # one note that only the start was read (seller's language), then one answer
    posts = bot.slack.posts(channel=SHOP_FR)
    notes = [p for p in posts if "premiers caractères" in p.params["text"]]
    assert len(notes) == 1 and "4\u00a0000" in notes[0].params["text"]
    assert len(posts) == 2 and posts.index(notes[0]) == 0
    assert "commission est de 12" in posts[1].params["text"]
    assert tracebacks(caplog) == []


@SQLITE_ONLY
def test_a_short_message_gets_no_note_and_an_english_seller_is_told_in_english(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot()
    short = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    long = sp.message_event(channel=SHOP_EN, text="What about photo sizes? " * 500)
    bot.send(short)
    bot.send(long)
    bot.wait_event(short["event_id"], "answered")
    bot.wait_event(long["event_id"], "answered")
    bot.close()
    assert [len(p.params["text"]) > 0 for p in bot.slack.posts(channel=SHOP_FR)] == [True]
    notes = [p.params["text"] for p in bot.slack.posts(channel=SHOP_EN)]
    assert any("first 4,000 characters" in n for n in notes), notes


@SQLITE_ONLY
def test_the_thread_history_and_the_human_click_see_only_the_start(
    start_bot: Callable[..., Bot],
) -> None:
    """Later turns of the thread and the "I need a human" hand-off read the stored question:
    the whole text is stored, so they must cut it too."""
    answerer, classifier = FakeAnswerer(answers={"commission": COMMISSION_FR}), FakeClassifier()
    bot = start_bot(answerer=answerer, classifier=classifier)
    first = sp.message_event(channel=SHOP_FR, text=_long_text(40_000))
    bot.send(first)
    bot.wait_event(first["event_id"], "answered")
    root = first["event"]["ts"]
    follow = sp.message_event(channel=SHOP_FR, text="Et la commission des bijoux ?", thread_ts=root)
    bot.send(follow)
    bot.wait_event(follow["event_id"], "answered")
    [question, _] = bot.questions()
    click = sp.block_actions(
        action_id=blocks.ACTION_HUMAN, value=str(question.id), channel=SHOP_FR, message_ts=root
    )
    assert bot.send(click).status_code == 200
    bot.close()
    history = answerer.asked[1][1]
    assert history and all(len(turn.question) <= MAX_MESSAGE_CHARS for turn in history)
    assert classifier.seen and all(len(seen) <= MAX_MESSAGE_CHARS for seen in classifier.seen)
    assert len(classifier.seen) == 3  # the two messages and the hand-off


# --- odd `files` entries -------------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize(
    "odd",
    [["a string"], [42], [None], [{"name": "no id.png"}], [{"id": ["F1"]}], "not a list"],
    ids=["string", "number", "null", "no id", "id not a string", "files not a list"],
)
def test_odd_files_entries_are_skipped_and_the_message_is_still_answered(
    start_bot: Callable[..., Bot], caplog: pytest.LogCaptureFixture, odd: Any
) -> None:
    caplog.set_level(logging.INFO)
    bot = start_bot()
    good = sp.file_object("capture.png", title="Commission erreur")
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?", files=[good])
    body["event"]["files"] = [*odd, good] if isinstance(odd, list) else odd
    assert bot.send(body).status_code == 200
    bot.wait_event(body["event_id"], "answered")
    bot.close()
    assert bot.slack.posts(channel=SHOP_FR)  # answered
    [question] = bot.questions()
    kept = {k: good[k] for k in ("id", "name", "title", "mimetype", "filetype", "permalink")}
    assert question.files == ([kept] if isinstance(odd, list) else [])
    assert any("files" in r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert tracebacks(caplog) == []


# --- ids that are not ids -------------------------------------------------------------------

HUGE = "12345678901234567890123"  # 23 digits: more than a 64-bit integer holds
# what an INTEGER column holds on PostgreSQL (32 bits) is less than on SQLite (64 bits)
OVER_INT32 = "2147483648"


def _bad_id_clicks() -> Iterator[tuple[str, dict[str, Any]]]:
    for value in (HUGE, "-5", OVER_INT32, "9223372036854775808", "١٢", "1_0", " 7"):
        yield (
            "feedback",
            sp.block_actions(
                action_id=blocks.ACTION_HUMAN, value=value, channel=SHOP_FR, message_ts="1.2"
            ),
        )
        yield (
            "triage",
            sp.block_actions(
                action_id=tb.ACTION_CLAIM,
                value=value,
                channel=TRIAGE,
                message_ts="1.2",
                user=AGENT,
                block_id=f"ticket:{value}",
            ),
        )
        yield (
            "relevel",
            sp.select_action(
                action_id=tb.ACTION_RELEVEL,
                block_id=f"ticket:{value}",
                value="2",
                channel=TRIAGE,
                message_ts="1.2",
                user=AGENT,
            ),
        )
        yield (
            "satisfaction",
            sp.block_actions(
                action_id=tb.ACTION_SOLVED_NO, value=value, channel=SHOP_FR, message_ts="1.2"
            ),
        )


def test_a_button_value_that_is_not_an_id_is_ignored_with_a_log_line(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A 23-digit, negative, out-of-range or non-ASCII-digit id: acknowledged, logged, and
    nothing happens (no OverflowError from the database, no 404, no 500)."""
    caplog.set_level(logging.INFO)
    clicks = list(_bad_id_clicks())
    for _, click in clicks:
        assert bot.send(click).status_code == 200
    huge_command = sp.slash_command(text=f"ticket {HUGE}", user=AGENT)
    assert bot.send(huge_command).status_code == 200
    bot.close()
    assert tracebacks(caplog) == []
    refused = [
        r for r in caplog.records if r.name.startswith("bot.listeners") and "id" in r.getMessage()
    ]
    assert len(refused) >= len(clicks), [r.getMessage() for r in refused]
    assert all(len(r.getMessage()) < 300 for r in refused)
    assert stored_rows(bot) == NOTHING
    assert bot.slack.updates() == []


@SQLITE_ONLY
def test_the_cap_is_the_operators_setting(
    start_bot: Callable[..., Bot],
    migrated_url: str,
    slack: SlackStandin,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMPTOIR_MAX_MESSAGE_CHARS", "1000")
    runtime = build_runtime(
        make_settings(migrated_url, slack, tmp_path),
        answerer=FakeAnswerer(),
        classifier=FakeClassifier(),
        run_migrations=False,
        inbox_thread=False,
    )
    try:
        assert runtime.deps.max_message_chars == 1000
    finally:
        runtime.close()
    monkeypatch.setenv("COMPTOIR_MAX_MESSAGE_CHARS", "50")
    with pytest.raises(ValidationError, match="max_message_chars"):
        make_settings(migrated_url, slack, tmp_path)
    monkeypatch.delenv("COMPTOIR_MAX_MESSAGE_CHARS")
    # the running bot reads what it was given: 1,000 characters, and says so
    answerer = FakeAnswerer(answers={"photo": PHOTOS_EN})
    bot = start_bot(answerer=answerer)
    bot.runtime.deps.max_message_chars = 1000
    body = sp.message_event(channel=SHOP_EN, text="What photo size do you need? " * 100)
    bot.send(body)
    bot.wait_event(body["event_id"], "answered")
    bot.slack.wait_for(lambda: len(bot.slack.posts(channel=SHOP_EN)) >= 2)
    bot.close()
    assert 900 < len(answerer.asked[0][0]) <= 1000
    assert "first 1,000 characters" in bot.slack.posts(channel=SHOP_EN)[0].params["text"]
