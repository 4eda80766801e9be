"""A post whose outcome the bot missed is looked for in Slack before it is sent again (issue 9).

Each chat.postMessage carries its outbox row id in Slack message metadata. When an attempt
may have reached Slack unrecorded (a timeout, a 5xx, the database failing between Slack's
"ok" and marking the row sent), the next attempt reads the thread (conversations.replies) or
the channel (conversations.history) first. Delivery is driven by `deliver_due(now=...)`;
the database failure is a real one: on SQLite another connection holds the write lock, on
PostgreSQL the database refuses connections and its sessions are terminated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import slack_payloads as sp
from bot import ticket_blocks as tb
from bot.outbox import OUTBOX_EVENT, Outbox
from bot.slack_standin import Call, SlackStandin
from routing import outbox_store
from routing.db import make_engine, make_sessionmaker, transaction, utcnow
from routing.models import OutboxMessage
from tests.bot.conftest import LEAD, SHOP_NO_AM, TRIAGE, Bot
from tests.conftest import PG_ADMIN_URL

THREAD = "1765000000.000100"  # a seller's message the bot answers in the thread of
CLIENT_TIMEOUT = 0.3


class Outage:
    """The database stops taking writes, then comes back, as during a restart.

    SQLite: another connection holds the write lock (the engine's busy timeout is short here,
    so a write fails with "database is locked"). PostgreSQL: the database refuses new
    connections and its sessions are terminated (a pooled connection's ping fails, and so
    does the reconnect)."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self._locker: sqlite3.Connection | None = None

    def begin(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            self._locker = sqlite3.connect(
                str(self.url.database), isolation_level=None, check_same_thread=False
            )
            self._locker.execute("BEGIN IMMEDIATE")
            return
        self._admin(
            f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{self.url.database}' AND pid <> pg_backend_pid()",
        )

    def end(self) -> None:
        if self._locker is not None:
            self._locker.rollback()
            self._locker.close()
            self._locker = None
        elif self.url.get_backend_name() != "sqlite":
            self._admin(f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS true')

    @staticmethod
    def _admin(*statements: str) -> None:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for statement in statements:
                    conn.execute(text(statement))
        finally:
            admin.dispose()

    def when_slack_accepts(
        self, slack: SlackStandin, wanted: Callable[[Call], bool] = lambda call: True
    ) -> None:
        """Fail the database once, right after Slack accepted the first `wanted` post."""

        def hook(call: Call) -> None:
            if call.method == "chat.postMessage" and wanted(call):
                slack.when_accepted(None)
                self.begin()

        slack.when_accepted(hook)


def short_busy_timeout(engine: Any) -> None:
    """SQLite: a locked database fails a write within half a second rather than thirty."""
    if engine.url.get_backend_name() != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _busy(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout = 500")

    engine.dispose()  # pooled connections get it too


@dataclass
class Rig:
    """An outbox on a test database, talking to the stand-in; what its on_sent hook saw."""

    outbox: Outbox
    slack: SlackStandin
    factory: sessionmaker[Session]
    outage: Outage
    hooked: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def enqueue(self, payload: dict[str, Any], *, now: datetime, key: str | None = None) -> int:
        with transaction(self.factory) as s:
            return outbox_store.enqueue(
                s, method="chat.postMessage", payload=payload, ordering_key=key, now=now
            )

    def row(self, row_id: int) -> OutboxMessage:
        with self.factory() as s:
            row = s.get(OutboxMessage, row_id)
            assert row is not None
            return row

    def methods(self) -> list[str]:
        return [c.method for c in self.slack.requests()]


@pytest.fixture
def rig(migrated_url: str, slack: SlackStandin) -> Iterator[Rig]:
    engine = make_engine(migrated_url)
    short_busy_timeout(engine)
    client = WebClient(
        token=slack.token,
        base_url=slack.url,
        timeout=CLIENT_TIMEOUT,  # type: ignore[arg-type]
        retry_handlers=[],
    )
    outage = Outage(migrated_url)
    rig = Rig(Outbox(make_sessionmaker(engine), client), slack, make_sessionmaker(engine), outage)
    rig.outbox.on_sent = lambda _s, method, payload, result: rig.hooked.append(
        (method, payload, result)
    )
    try:
        yield rig
    finally:
        outage.end()
        engine.dispose()


def test_slack_took_the_post_and_the_database_failed_gives_one_post(rig: Rig) -> None:
    """The issue's case: Slack's ok arrived, marking the row sent failed, the lease ran out."""
    t0 = utcnow()
    card = {"channel": TRIAGE, "text": "Ticket #1001", "metadata": tb.card_metadata(7, "triage")}
    row_id = rig.enqueue(card, now=t0)
    rig.outage.when_slack_accepts(rig.slack)

    with pytest.raises(OperationalError):
        rig.outbox.deliver_due(now=t0)  # the worker logs this and tries again later
    rig.outage.end()
    [post] = rig.slack.posts(channel=TRIAGE)
    assert rig.row(row_id).status == "sending"  # never recorded
    # the card's own metadata is kept; the row id joins it
    assert post.params["metadata"] == {
        "event_type": tb.CARD_EVENT,
        "event_payload": {"ticket_id": 7, "card": "triage", "outbox_id": row_id},
    }

    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=30)).sent == 0  # leased
    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=61)).sent == 1

    assert len(rig.slack.posts(channel=TRIAGE)) == 1
    assert len(rig.slack.requests("chat.postMessage")) == 1
    assert rig.slack.requests("conversations.history")
    row = rig.row(row_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert row.result is not None and row.result["ts"] == post.response["ts"]
    # the card learns where it landed, with the payload as written (its card metadata)
    assert [(m, p["metadata"]["event_payload"], r["ts"]) for m, p, r in rig.hooked] == [
        ("chat.postMessage", {"ticket_id": 7, "card": "triage"}, post.response["ts"])
    ]


def test_a_timeout_slack_never_saw_is_posted_on_retry_once(rig: Rig) -> None:
    t0 = utcnow()
    row_id = rig.enqueue({"channel": TRIAGE, "text": "hello"}, now=t0)
    rig.slack.hang_next(1, seconds=3, methods=["chat.postMessage"])

    assert rig.outbox.deliver_due(now=t0).retried == 1
    row = rig.row(row_id)
    assert row.status == "pending" and outbox_store.outcome_unknown(row)
    assert rig.slack.posts() == []

    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=2)).sent == 1
    [post] = rig.slack.posts(channel=TRIAGE)
    assert post.params["metadata"] == {
        "event_type": OUTBOX_EVENT,
        "event_payload": {"outbox_id": row_id},
    }
    assert rig.methods().count("conversations.history") == 1  # looked, found nothing, posted
    assert rig.row(row_id).result["ts"] == post.response["ts"]  # type: ignore[index]


def _timed_out_after_slack_took_it(rig: Rig, payload: dict[str, Any], t0: datetime) -> int:
    """The first attempt: Slack answers only after the client gave up, then stores the post."""
    row_id = rig.enqueue(payload, now=t0)
    rig.slack.slow_next(1, seconds=1.0, methods=["chat.postMessage"])
    assert rig.outbox.deliver_due(now=t0).retried == 1
    assert "imeout" in (rig.row(row_id).last_error or "")
    rig.slack.wait_for(lambda: rig.slack.posts())  # Slack has it now
    return row_id


def test_a_timeout_after_slack_took_a_top_level_post_finds_it_in_the_history(rig: Rig) -> None:
    t0 = utcnow()
    row_id = _timed_out_after_slack_took_it(rig, {"channel": TRIAGE, "text": "card"}, t0)

    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=2)).sent == 1
    [post] = rig.slack.posts()
    assert len(rig.slack.requests("chat.postMessage")) == 1
    assert "conversations.history" in rig.methods()
    assert "conversations.replies" not in rig.methods()
    assert rig.row(row_id).result["ts"] == post.response["ts"]  # type: ignore[index]
    assert [r["ts"] for _m, _p, r in rig.hooked] == [post.response["ts"]]


def test_a_timeout_after_slack_took_a_thread_reply_finds_it_in_the_thread(rig: Rig) -> None:
    t0 = utcnow()
    payload = {"channel": TRIAGE, "thread_ts": THREAD, "text": "SLA alert"}
    row_id = _timed_out_after_slack_took_it(rig, payload, t0)

    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=2)).sent == 1
    [post] = rig.slack.posts(thread_ts=THREAD)
    assert len(rig.slack.requests("chat.postMessage")) == 1
    replies = rig.slack.requests("conversations.replies")
    assert [c.get("ts") for c in replies] == [THREAD]
    assert "conversations.history" not in rig.methods()
    assert rig.row(row_id).result["ts"] == post.response["ts"]  # type: ignore[index]


def test_a_dm_is_looked_for_in_the_im_channel(rig: Rig) -> None:
    """A post to a user id lands in a D… channel; conversations.open names it for the lookup."""
    t0 = utcnow()
    row_id = _timed_out_after_slack_took_it(rig, {"channel": LEAD, "text": "Level 3"}, t0)

    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=2)).sent == 1
    [post] = rig.slack.posts(channel=LEAD)
    assert len(rig.slack.requests("chat.postMessage")) == 1
    [history] = rig.slack.requests("conversations.history")
    assert history.get("channel") == post.response["channel"] != LEAD
    assert rig.row(row_id).result["ts"] == post.response["ts"]  # type: ignore[index]


def test_a_failing_lookup_is_retried_and_posts_nothing(rig: Rig) -> None:
    t0 = utcnow()
    row_id = _timed_out_after_slack_took_it(rig, {"channel": TRIAGE, "text": "card"}, t0)
    rig.slack.fail_next(1, status=503, methods=["conversations.history"])

    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=2)).retried == 1
    row = rig.row(row_id)
    assert row.status == "pending" and outbox_store.outcome_unknown(row)  # still unknown
    assert "looking for the earlier post failed" in (row.last_error or "")
    assert len(rig.slack.requests("chat.postMessage")) == 1

    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=10)).sent == 1
    assert len(rig.slack.requests("chat.postMessage")) == 1
    assert len(rig.slack.posts()) == 1
    assert rig.row(row_id).status == "sent"


def test_a_first_attempt_and_a_rate_limit_cost_no_lookup(rig: Rig) -> None:
    """A 429 means Slack did not take the call: the retry posts without looking."""
    t0 = utcnow()
    rig.enqueue({"channel": TRIAGE, "text": "one"}, now=t0)
    rig.slack.fail_next(1, status=429, retry_after=1)
    assert rig.outbox.deliver_due(now=t0).retried == 1
    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=2)).sent == 1
    rig.enqueue({"channel": TRIAGE, "text": "two"}, now=t0)
    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=2)).sent == 1
    assert rig.methods() == ["chat.postMessage"] * 3
    assert len(rig.slack.posts()) == 2


def test_another_installs_message_with_the_same_row_id_is_not_ours(rig: Rig) -> None:
    """A staging install in the same channel tags its posts with its own row ids."""
    t0 = utcnow()
    row_id = rig.enqueue({"channel": TRIAGE, "text": "ours"}, now=t0)
    rig.slack.hang_next(1, seconds=3, methods=["chat.postMessage"])
    assert rig.outbox.deliver_due(now=t0).retried == 1
    rig.slack.add_message(
        TRIAGE,
        bot_id="B0STAGING01",
        text="theirs",
        metadata={"event_type": OUTBOX_EVENT, "event_payload": {"outbox_id": row_id}},
    )
    assert rig.outbox.deliver_due(now=t0 + timedelta(seconds=2)).sent == 1
    assert [c.get("text") for c in rig.slack.posts()] == ["ours"]


def _triage_cards(posts: list[Call]) -> list[Call]:
    return [
        c
        for c in posts
        if c.get("channel") == TRIAGE
        and ((c.get("metadata") or {}).get("event_payload") or {}).get("card") == tb.TRIAGE_CARD
    ]


def test_a_level3_triage_card_is_posted_once_across_a_database_restart(
    start_bot: Callable[..., Bot], migrated_url: str
) -> None:
    """Issue 9 through the real bot: the card is posted once and the ticket learns its ts."""
    bot = start_bot(worker=False)
    short_busy_timeout(bot.factory.kw["bind"])
    outage = Outage(migrated_url)
    body = sp.message_event(channel=SHOP_NO_AM, text="Mon compte est suspendu")
    bot.send(body)
    bot.wait_ticket()  # its cards are queued with it
    outage.when_slack_accepts(bot.slack, lambda call: bool(_triage_cards([call])))
    t0 = utcnow()
    try:
        with pytest.raises(OperationalError):
            bot.runtime.outbox.deliver_due(now=t0)
    finally:
        outage.end()
    [card] = _triage_cards(bot.slack.posts())
    assert bot.tickets()[0].triage_ts is None  # the outbox never recorded it

    bot.runtime.outbox.deliver_due(now=t0 + timedelta(seconds=61))
    assert _triage_cards(bot.slack.posts()) == [card]
    assert bot.tickets()[0].triage_ts == card.response["ts"]
    with bot.factory() as s:
        assert all(r.status == "sent" for r in outbox_store.rows(s))
    # every post went once, whichever the outage caught
    posts = [(c.get("channel"), c.get("thread_ts"), c.get("text")) for c in bot.slack.posts()]
    assert len(posts) == len(set(posts))
