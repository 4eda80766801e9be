"""`comptoir serve --socket` as an operator runs it, against Slack's Socket Mode stood in.

A real process tree on a real database: serve asks apps.connections.open for a WebSocket URL
with the app-level token, connects to the stand-in's WebSocket server, stores and acks each
envelope; its worker child answers in the seller's thread through the Web API stand-in.
Slack redelivers events and refreshes connections: neither may cost an answer or add one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, select
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot import slack_payloads as sp
from bot.slack_standin import Call, SlackStandin
from bot.socket_standin import SocketModeStandin
from routing import inbox_store, migrate
from routing.db import make_engine, make_sessionmaker, transaction
from routing.models import InboxEvent, OutboxMessage, Question, Seller, Ticket
from tests.bot.conftest import poll

SECRET = "7d3c5a1e9f0b2d4c6e8a0b1c3d5e7f90"
CHANNEL = "C0SOCKET01"
COMPTOIR = Path(sys.executable).with_name("comptoir")
GUIDELINE = """---
title: Mode vacances
language: fr
---

# Mode vacances

Le mode vacances met votre boutique en pause : vos offres restent en ligne mais ne peuvent
plus être commandées. Il dure au plus 21 jours consécutifs ; au-delà, vos offres sont
retirées de la vente. Activez-le depuis votre espace vendeur, rubrique Boutique.
"""
QUESTION = "Combien de jours consécutifs peut durer le mode vacances ?"


@dataclass
class Served:
    proc: subprocess.Popen[str]
    slack: SlackStandin
    socket: SocketModeStandin
    engine: Engine
    stderr: list[str]


def _env(data: Path, slack: SlackStandin | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
    env["COMPTOIR_DATA_DIR"] = str(data)
    if slack is not None:
        env.update(
            COMPTOIR_SLACK_BOT_TOKEN=slack.token,
            COMPTOIR_SLACK_SIGNING_SECRET=SECRET,
            COMPTOIR_SLACK_APP_TOKEN=slack.app_token,
            COMPTOIR_SLACK_API_URL=slack.url,
        )
    return env


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `comptoir serve --socket` for the module: a directory seller, one guideline."""
    if not Path("/proc").exists():
        pytest.skip("needs /proc (Linux): serve's worker child is tied to it by prctl")
    data = tmp_path_factory.mktemp("socket-mode")
    url = f"sqlite:///{data / 'comptoir.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as s:
        s.add(
            Seller(
                seller_id="S1",
                name="Atelier Roux",
                channel_id=CHANNEL,
                account_manager_id=None,
                tier="gold",
                language="fr",
            )
        )
    docs = data / "guidelines"
    docs.mkdir()
    (docs / "mode-vacances.md").write_text(GUIDELINE)
    ingest = subprocess.run(
        [str(COMPTOIR), "kb", "ingest", str(docs)],
        env=_env(data),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stderr
    with SlackStandin() as slack, SocketModeStandin(slack) as socket:
        proc = subprocess.Popen(
            [str(COMPTOIR), "serve", "--socket"],
            env=_env(data, slack),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        stderr: list[str] = []
        threading.Thread(target=lambda: stderr.extend(proc.stderr or ()), daemon=True).start()
        try:
            # startup loads the embedding model; a serve that exits says why on stderr
            socket.wait_for(lambda: proc.poll() is not None or socket.open_sessions(), timeout=120)
            assert proc.poll() is None, "serve exited:\n" + "".join(stderr[-30:])
            yield Served(proc, slack, socket, engine, stderr)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # what Ctrl-C does: serve stops its worker too
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(30)
            engine.dispose()


def _ask(served: Served, text: str = QUESTION) -> dict[str, Any]:
    """A seller's message in the directory channel, pushed over the socket; its ack awaited."""
    body = sp.message_event(channel=CHANNEL, text=text)
    envelope_id = served.socket.push(body)
    served.socket.wait_for(lambda: served.socket.acks(envelope_id))
    return body


def _answers(served: Served, body: dict[str, Any]) -> list[Call]:
    return served.slack.posts(channel=CHANNEL, thread_ts=body["event"]["ts"])


def _wait_answer(served: Served, body: dict[str, Any]) -> Call:
    return served.slack.wait_for(lambda: _answers(served, body), timeout=60)[0]


def _queued_answers(served: Served, body: dict[str, Any]) -> int:
    """chat.postMessage calls the bot ever queued into this thread, sent or not."""
    with served.engine.connect() as conn:
        payloads = conn.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.method == "chat.postMessage")
        )
        return sum(1 for p in payloads if p.get("thread_ts") == body["event"]["ts"])


def _after_a_later_message_is_answered(served: Served) -> None:
    """A barrier instead of a sleep. A duplicate would be stored before its ack (the intake
    stores, then acks), so before this later message; once that one is answered and the
    inbox holds nothing left to handle, a duplicate would have queued its answer already."""
    _wait_answer(served, _ask(served, "Comment activer le mode vacances ?"))

    def inbox_settled() -> bool:
        with served.engine.connect() as conn:
            statuses = conn.scalars(select(InboxEvent.status)).all()
        return all(status == inbox_store.DONE for status in statuses)

    poll(inbox_settled, timeout=60, what="every stored message handled")


def test_a_message_over_the_socket_is_acked_and_answered_once_in_its_thread(
    served: Served,
) -> None:
    body = sp.message_event(channel=CHANNEL, text=QUESTION)
    envelope_id = served.socket.push(body)
    [ack] = served.socket.wait_for(lambda: served.socket.acks(envelope_id))
    assert ack.payload is None  # an events_api envelope accepts no response payload
    with served.engine.connect() as conn:  # acked, so already stored: a crash now loses nothing
        stored = conn.scalar(
            select(InboxEvent.event_id).where(InboxEvent.event_id == body["event_id"])
        )
    assert stored == body["event_id"]

    answer = _wait_answer(served, body)
    assert "21 jours" in answer.get("text", "")
    _after_a_later_message_is_answered(served)
    assert len(_answers(served, body)) == 1
    assert _queued_answers(served, body) == 1
    with served.engine.connect() as conn:
        answered = conn.scalars(
            select(Question.answered).where(Question.message_ts == body["event"]["ts"])
        ).all()
    assert answered == [True]  # one question stored, answered from the guideline


def test_a_redelivery_of_the_same_event_gives_no_second_answer(served: Served) -> None:
    body = _ask(served)
    _wait_answer(served, body)
    # Slack saw no ack in time and delivers the same event again, in a new envelope
    retry = served.socket.push(body, retry_attempt=1, retry_reason="timeout")
    assert served.socket.wait_for(lambda: served.socket.acks(retry))  # acked all the same

    _after_a_later_message_is_answered(served)
    assert len(_answers(served, body)) == 1
    assert _queued_answers(served, body) == 1
    with served.engine.connect() as conn:
        stored = conn.scalars(
            select(InboxEvent.event_id).where(InboxEvent.event_id == body["event_id"])
        ).all()
    assert stored == [body["event_id"]]


def test_a_refresh_moves_the_app_to_a_new_connection_and_answers_go_on(
    served: Served,
) -> None:
    socket = served.socket
    before = socket.open_sessions()[-1]
    refreshed = socket.disconnect("refresh_requested")
    assert refreshed == before.number

    after = socket.wait_connected(after=before.number)
    # the app closes the old connection itself, and opened the new one with a new URL from
    # apps.connections.open (a ticket serves once), called with the app-level token
    socket.wait_for(
        lambda: not next(s for s in socket.sessions() if s.number == before.number).open
    )
    assert after.ticket != before.ticket and socket.refused() == []
    opened = served.slack.requests("apps.connections.open")
    assert len(opened) >= 2 and all(c.ok for c in opened)

    body = sp.message_event(channel=CHANNEL, text=QUESTION)
    envelope_id = socket.push(body)
    [ack] = socket.wait_for(lambda: socket.acks(envelope_id))
    assert ack.session == after.number
    assert "21 jours" in _wait_answer(served, body).get("text", "")
    assert served.proc.poll() is None, "".join(served.stderr[-20:])


def test_a_click_on_i_need_a_human_over_the_socket_opens_a_ticket_in_the_thread(
    served: Served,
) -> None:
    body = _ask(served, "Le mode vacances peut-il durer plus de 21 jours ?")
    answer = _wait_answer(served, body)
    root = body["event"]["ts"]
    with served.engine.connect() as conn:
        question_id = conn.scalar(select(Question.id).where(Question.message_ts == root))
    click = sp.block_actions(
        action_id="answer_human",
        value=str(question_id),
        channel=CHANNEL,
        message_ts=answer.response["ts"],
        thread_ts=root,
    )
    envelope_id = served.socket.push_interactive(click)
    assert served.socket.wait_for(lambda: served.socket.acks(envelope_id))
    handoff = served.slack.wait_for(lambda: _answers(served, body)[1:], timeout=60)[0]
    assert "Ticket *#" in handoff.params["text"]
    with served.engine.connect() as conn:
        tickets = conn.scalars(select(Ticket.question_id).where(Ticket.thread_ts == root)).all()
    assert tickets == [question_id]


def test_the_standin_refuses_what_slack_refuses() -> None:
    """Tokens of the wrong kind and a socket URL used twice fail as they would against Slack,
    so the tests above cannot pass on a shortcut Slack would not allow."""
    with SlackStandin() as slack:
        app_client = WebClient(token=slack.app_token, base_url=slack.url, retry_handlers=[])
        bot_client = WebClient(token=slack.token, base_url=slack.url, retry_handlers=[])
        with pytest.raises(SlackApiError, match="unknown_method"):
            app_client.apps_connections_open(app_token=slack.app_token)  # Socket Mode is off
        with SocketModeStandin(slack) as socket:
            with pytest.raises(SlackApiError, match="not_allowed_token_type"):
                bot_client.apps_connections_open(app_token=slack.token)
            with pytest.raises(SlackApiError, match="not_allowed_token_type"):
                app_client.chat_postMessage(channel=CHANNEL, text="hello")
            url = app_client.apps_connections_open(app_token=slack.app_token)["url"]
            assert url.startswith(f"ws://127.0.0.1:{socket.port}/link/?ticket=")

            with connect(url) as ws:
                hello = json.loads(ws.recv(timeout=5))
                assert hello["type"] == "hello"
                assert hello["connection_info"] == {"app_id": sp.API_APP_ID}
                envelope_id = socket.push(sp.message_event(channel=CHANNEL, text="Bonjour"))
                envelope = json.loads(ws.recv(timeout=5))
                assert (envelope["envelope_id"], envelope["type"]) == (envelope_id, "events_api")
                assert envelope["payload"]["type"] == "event_callback"
                assert socket.acks() == []
                ws.send(json.dumps({"envelope_id": envelope_id}))
                [ack] = socket.wait_for(socket.acks)
                assert ack.envelope_id == envelope_id
            with pytest.raises(InvalidStatus, match="401"):
                connect(url)  # a ticket serves one connection
            assert len(socket.refused()) == 1


def test_a_refused_app_token_stops_serve_with_slacks_reason(tmp_path: Path) -> None:
    with SlackStandin() as slack, SocketModeStandin(slack):
        env = _env(tmp_path, slack)
        env["COMPTOIR_SLACK_APP_TOKEN"] = "xapp-1-A0-0-not-the-apps-token"
        done = subprocess.run(
            [str(COMPTOIR), "serve", "--socket", "--no-worker"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 1
    assert "Socket Mode connection refused by Slack: invalid_auth" in done.stderr
    assert "Traceback" not in done.stderr
    assert "connected in Socket Mode" not in done.stderr
