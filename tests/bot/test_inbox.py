"""Seller messages are stored before the ack and answered by a worker, even one started later."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot import slack_payloads as sp
from bot.inbox import DispatchError, InboxWorker, bolt_dispatcher, wants_worker
from bot.slack_standin import SlackStandin
from routing import inbox_store
from routing.db import make_engine, make_sessionmaker, transaction, transient, utcnow
from routing.models import InboxEvent, OutboxMessage, Seller, SlackEvent
from tests.bot.conftest import AGENT, SECRET, SHOP_FR, Bot, poll


def _inbox(bot: Bot) -> list[InboxEvent]:
    with bot.factory() as s:
        return inbox_store.rows(s)


def _store(factory: sessionmaker[Session], n: int) -> list[str]:
    ids = []
    with transaction(factory) as s:
        for i in range(n):
            body = sp.message_event(channel=SHOP_FR, text=f"question {i}")
            assert inbox_store.do_store(s, event_id=body["event_id"], body=body, now=utcnow())
            ids.append(body["event_id"])
    return ids


def _status(factory: sessionmaker[Session], event_id: str) -> InboxEvent:
    with factory() as s:
        row = s.get(InboxEvent, event_id)
        assert row is not None
        return row


def test_message_is_stored_before_the_ack_and_answered_once_the_worker_runs(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot(inbox=False)
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert bot.send(body).status_code == 200
    # the 200 came after the row was committed, and no listener ran in the HTTP process
    [row] = _inbox(bot)
    assert (row.event_id, row.status, row.attempts) == (body["event_id"], "queued", 0)
    assert row.body["event"]["text"] == "Quelle est la commission ?"
    assert bot.event_status(body["event_id"]) is None and bot.slack.posts() == []

    bot.runtime.inbox_worker.start()
    post = bot.slack.wait_for(lambda: bot.slack.posts(thread_ts=body["event"]["ts"]))[0]
    assert "12 %" in post.params["text"]
    row = poll(lambda: (r := _inbox(bot)[0]).status == "done" and r, what="row done")
    assert row.attempts == 1 and row.done_at is not None


def test_event_acked_before_a_crash_is_answered_by_the_next_process(
    start_bot: Callable[..., Bot],
) -> None:
    first = start_bot(inbox=False, worker=False)  # serves, then dies before any work
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert first.send(body).status_code == 200
    first.close()
    second = start_bot()  # the restarted process, worker included
    second.slack.wait_for(lambda: second.slack.posts(thread_ts=body["event"]["ts"]))
    assert second.wait_event(body["event_id"], "answered")


def test_a_slack_retry_of_a_stored_event_adds_nothing(start_bot: Callable[..., Bot]) -> None:
    bot = start_bot(inbox=False)
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert bot.send(body).status_code == 200
    assert bot.send(body, retry_num=1).status_code == 200
    assert bot.send(body, retry_num=2, retry_reason="http_error").status_code == 200
    assert [r.event_id for r in _inbox(bot)] == [body["event_id"]]
    assert bot.runtime.inbox_worker.drain() == 1
    # drain() answered synchronously: every answer it made is in the outbox by now
    with bot.factory() as s:
        answers = [
            m
            for m in s.query(OutboxMessage).filter_by(method="chat.postMessage")
            if m.payload.get("thread_ts") == body["event"]["ts"]
        ]
    assert len(answers) == 1
    bot.slack.wait_for(lambda: bot.slack.posts(thread_ts=body["event"]["ts"]))


def test_http_side_alone_acks_and_keeps_everything(start_bot: Callable[..., Bot]) -> None:
    # no inbox worker and no outbox worker: acking needs neither (bench.ack_latency times it)
    bot = start_bot(inbox=False, worker=False)
    bodies = [sp.message_event(channel=SHOP_FR, text=f"question {i} ?") for i in range(20)]
    for body in bodies:
        assert bot.send(body).status_code == 200
    rows = _inbox(bot)
    assert {r.event_id for r in rows} == {b["event_id"] for b in bodies}
    assert {r.status for r in rows} == {"queued"}
    with bot.factory() as s:
        assert s.query(SlackEvent).count() == 0  # no listener ran for them here


def test_the_ack_does_not_wait_for_a_workers_write_transaction(
    start_bot: Callable[..., Bot], migrated_url: str
) -> None:
    """The worker writes answers, events and outbox rows in transactions that last as long as
    its lower-priority process takes; a delivery is stored and acked meanwhile (on SQLite the
    inbox has a file, and a write lock, of its own)."""
    bot = start_bot(inbox=False, worker=False)
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    worker_engine = make_engine(migrated_url)  # another process's connection
    try:
        with make_sessionmaker(worker_engine)() as worker, worker.begin():
            worker.execute(update(Seller).values(name=Seller.name))  # holds the write lock
            assert bot.send(body).status_code == 200  # sent while that transaction is open
            assert [r.event_id for r in _inbox(bot)] == [body["event_id"]]  # and committed
    finally:
        worker_engine.dispose()


def test_buttons_and_home_are_still_handled_where_they_arrive(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot(inbox=False)  # no inbox worker at all
    bot.send(sp.app_home_opened(user=AGENT))
    bot.slack.wait_for(lambda: bot.slack.calls("views.publish"))
    assert _inbox(bot) == []


def test_which_deliveries_go_through_the_inbox() -> None:
    message = sp.message_event(channel=SHOP_FR, text="hello")
    assert wants_worker(message) == message["event_id"]
    mention = sp.app_mention_event(channel=SHOP_FR, text="<@U0BOT> hello")
    assert wants_worker(mention) == mention["event_id"]
    assert wants_worker(sp.app_home_opened(user=AGENT)) is None
    assert wants_worker({"type": "url_verification", "challenge": "x"}) is None
    assert wants_worker({"type": "event_callback", "event": {"type": "reaction_added"}}) is None
    # malformed: no event id or no event object -> handled as before, never half-stored
    assert wants_worker({**message, "event_id": None}) is None
    assert wants_worker({"type": "event_callback", "event": "message"}) is None


def test_a_failing_delivery_is_retried_then_marked_failed_with_its_error(
    session_factory: sessionmaker[Session], slack: SlackStandin
) -> None:
    app = App(
        client=WebClient(token=slack.token, base_url=slack.url),
        signing_secret=SECRET,
        process_before_response=True,
        request_verification_enabled=False,
    )
    calls: list[str] = []

    @app.event("message")
    def broken(body: dict[str, Any]) -> None:
        calls.append(body["event_id"])
        if "flaky" in body["event"]["text"] and len(calls) > 1:
            return
        raise RuntimeError("database went away")

    worker = InboxWorker(
        session_factory, bolt_dispatcher(app), max_attempts=3, retry_delay=timedelta(0)
    )
    with transaction(session_factory) as s:
        doomed = sp.message_event(channel=SHOP_FR, text="always fails")
        inbox_store.do_store(s, event_id=doomed["event_id"], body=doomed, now=utcnow())
    assert worker.drain() == 3  # tried three times, then given up
    row = _status(session_factory, doomed["event_id"])
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error == "RuntimeError: database went away"
    assert worker.drain() == 0  # a failed row stays failed, visible, not retried forever

    calls.clear()
    with transaction(session_factory) as s:
        flaky = sp.message_event(channel=SHOP_FR, text="flaky once")
        inbox_store.do_store(s, event_id=flaky["event_id"], body=flaky, now=utcnow())
    assert worker.drain() == 2
    row = _status(session_factory, flaky["event_id"])
    assert (row.status, row.attempts) == ("done", 2)
    assert row.last_error == "RuntimeError: database went away"  # the earlier failure is kept


def test_a_retry_waits_for_its_delay(session_factory: sessionmaker[Session]) -> None:
    now = utcnow()

    def fail(body: dict[str, Any]) -> None:
        raise DispatchError("Slack listener failed")

    worker = InboxWorker(session_factory, fail, retry_delay=timedelta(seconds=5), clock=lambda: now)
    [event_id] = _store(session_factory, 1)
    assert worker.drain() == 1 and _status(session_factory, event_id).status == "retry"
    assert worker.drain() == 0  # not before the delay
    now += timedelta(seconds=6)
    assert worker.drain() == 1 and _status(session_factory, event_id).attempts == 2


def test_a_row_left_working_by_a_dead_worker_is_taken_again_after_the_lease(
    session_factory: sessionmaker[Session],
) -> None:
    [event_id] = _store(session_factory, 1)
    t0 = utcnow()
    with transaction(session_factory) as s:  # a worker claims it, then its process dies
        claimed = inbox_store.claim_next(s, now=t0, lease=timedelta(minutes=5))
    assert claimed is not None and claimed[2] == 1
    handled: list[str] = []
    now = t0 + timedelta(minutes=1)
    survivor = InboxWorker(
        session_factory,
        lambda body: handled.append(body["event_id"]),
        lease=timedelta(minutes=5),
        clock=lambda: now,
    )
    assert survivor.drain() == 0  # still leased to the (maybe slow) first worker
    now = t0 + timedelta(minutes=6)
    assert survivor.drain() == 1 and handled == [event_id]
    row = _status(session_factory, event_id)
    assert (row.status, row.attempts) == ("done", 2)
    with transaction(session_factory) as s:  # the first worker, back from the dead, cannot undo it
        assert not inbox_store.mark_failed(s, event_id=event_id, attempt=1, error="late", now=now)
    assert _status(session_factory, event_id).status == "done"


def test_a_worker_with_a_shorter_lease_waits_for_the_owners_lease_not_its_own(
    session_factory: sessionmaker[Session],
) -> None:
    """Workers configured apart (COMPTOIR_INBOX_LEASE_SECONDS): the owner's lease decides.
    Compared with the looking worker's own lease, a 10 s worker took a 60 s worker's live
    claim after 10 s, and both answered."""
    [event_id] = _store(session_factory, 1)
    t0 = utcnow()
    with transaction(session_factory) as s:  # the owner: a 60 s lease
        assert inbox_store.claim_next(s, now=t0, lease=timedelta(seconds=60)) is not None
    handled: list[str] = []
    now = t0 + timedelta(seconds=30)
    short = InboxWorker(
        session_factory,
        lambda body: handled.append(body["event_id"]),
        lease=timedelta(seconds=10),
        heartbeat=timedelta(0),
        clock=lambda: now,
    )
    assert short.drain() == 0  # 30 s in: past the looker's 10 s, within the owner's 60 s
    with transaction(session_factory) as s:  # the owner's heartbeat at +50 s: 60 s more
        assert inbox_store.renew(
            s,
            event_id=event_id,
            attempt=1,
            now=t0 + timedelta(seconds=50),
            lease=timedelta(seconds=60),
        )
    now = t0 + timedelta(seconds=100)
    assert short.drain() == 0  # within the renewed lease (until +110 s)
    now = t0 + timedelta(seconds=111)
    assert short.drain() == 1 and handled == [event_id]  # the owner is silent: taken over
    assert _status(session_factory, event_id).attempts == 2


def test_rows_are_claimed_in_the_order_they_arrived(
    session_factory: sessionmaker[Session],
) -> None:
    ids = _store(session_factory, 5)
    seen: list[str] = []
    InboxWorker(session_factory, lambda body: seen.append(body["event_id"])).drain()
    assert seen == ids


def test_two_worker_processes_never_handle_the_same_row(migrated_url: str) -> None:
    engines = [make_engine(migrated_url) for _ in range(2)]
    factories = [make_sessionmaker(e) for e in engines]
    ids = _store(factories[0], 60)
    handled: list[str] = []
    lock = threading.Lock()

    def record(body: dict[str, Any]) -> None:
        time.sleep(0.005)  # a little work, so the workers overlap
        with lock:
            handled.append(body["event_id"])

    workers = [
        InboxWorker(f, record, threads=2, idle_poll=0.05, retry_delay=timedelta(0))
        for f in factories
    ]
    try:
        for w in workers:
            w.start()

        def all_done() -> bool:
            with factories[0]() as s:
                return inbox_store.counts(s).get("done") == len(ids)

        poll(all_done, timeout=30, what="every row done")
    finally:
        for w in workers:
            w.stop()
        for e in engines:
            e.dispose()
    assert sorted(handled) == sorted(ids)  # each exactly once


@pytest.mark.parametrize("threads", [0])
def test_a_worker_needs_a_thread_and_an_attempt(
    session_factory: sessionmaker[Session], threads: int
) -> None:
    with pytest.raises(ValueError):
        InboxWorker(session_factory, lambda body: None, threads=threads)
    with pytest.raises(ValueError):
        InboxWorker(session_factory, lambda body: None, max_attempts=0)


def test_the_purge_deletes_handled_deliveries_past_retention_in_batches_and_keeps_the_rest(
    session_factory: sessionmaker[Session],
) -> None:
    ids = _store(session_factory, 7)
    t0 = utcnow()
    worker = InboxWorker(session_factory, lambda body: None, clock=lambda: t0)
    assert worker.drain() == 7  # all done at t0
    late, failed, queued = _store(session_factory, 3)
    with transaction(session_factory) as s:  # one handled later, one failed, one still queued
        s.execute(
            update(InboxEvent)
            .where(InboxEvent.event_id == late)
            .values(status="done", done_at=t0 + timedelta(days=2))
        )
        s.execute(
            update(InboxEvent)
            .where(InboxEvent.event_id == failed)
            .values(status="failed", done_at=t0, last_error="RuntimeError: boom")
        )
    purged = inbox_store.purge_done(session_factory, before=t0 + timedelta(days=1), batch=3)
    assert purged == 7  # three full batches of 3, 3 and 1
    with session_factory() as s:
        left = {r.event_id: r.status for r in inbox_store.rows(s)}
    assert left == {late: "done", failed: "failed", queued: "queued"}
    assert not set(ids) & set(left)
    assert inbox_store.purge_done(session_factory, before=t0 + timedelta(days=1)) == 0


# ---- leases that match the work (issue 9): heartbeat, a busy database, no silent failure ----


def test_a_heartbeat_keeps_the_lease_while_a_slow_listener_runs(
    session_factory: sessionmaker[Session],
) -> None:
    [event_id] = _store(session_factory, 1)
    now = utcnow()
    taken_over: list[str] = []
    other = InboxWorker(
        session_factory, lambda body: taken_over.append(body["event_id"]), clock=lambda: now
    )

    def slow(body: dict[str, Any]) -> None:  # 80 s of work under a 60 s lease
        nonlocal now
        now += timedelta(seconds=40)
        assert worker.renew_leases() == []  # what the heartbeat thread does every 20 s
        now += timedelta(seconds=40)
        assert other.drain() == 0  # the lease started again 40 s ago: still this worker's

    worker = InboxWorker(
        session_factory,
        slow,
        lease=timedelta(seconds=60),
        heartbeat=timedelta(0),  # no thread: this test beats by hand
        clock=lambda: now,
    )
    assert worker.drain() == 1
    row = _status(session_factory, event_id)
    assert (row.status, row.attempts, taken_over) == ("done", 1, [])


def test_the_heartbeat_thread_renews_the_lease_of_the_message_in_hand(
    session_factory: sessionmaker[Session],
) -> None:
    [event_id] = _store(session_factory, 1)
    start = utcnow()
    now = start

    def slow(body: dict[str, Any]) -> None:
        nonlocal now
        now = start + timedelta(seconds=40)
        # the thread beats every 50 ms (of real time) and renews with the worker's clock
        poll(lambda: _status(session_factory, event_id).claimed_at == now, what="lease renewed")

    worker = InboxWorker(
        session_factory,
        slow,
        lease=timedelta(seconds=60),
        heartbeat=timedelta(milliseconds=50),
        clock=lambda: now,
    )
    assert worker.drain() == 1
    assert _status(session_factory, event_id).status == "done"


def test_a_lease_is_longer_than_its_heartbeat(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        InboxWorker(
            session_factory, print, lease=timedelta(seconds=3), heartbeat=timedelta(seconds=3)
        )
    with pytest.raises(ValueError, match="lease"):
        InboxWorker(session_factory, print, lease=timedelta(0))


@contextmanager
def _hold_the_seller_directory(engine: Engine) -> Iterator[None]:
    """A transaction of a frozen process that holds what answering needs: on SQLite the
    database's write lock, on PostgreSQL the sellers table."""
    with engine.connect() as conn, conn.begin():
        if engine.dialect.name == "sqlite":
            conn.execute(update(Seller).values(name=Seller.name))
        else:
            conn.execute(text("LOCK TABLE sellers IN ACCESS EXCLUSIVE MODE"))
        yield


def test_a_database_held_by_a_frozen_transaction_never_fails_a_message_for_good(
    start_bot: Callable[..., Bot], migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "database is locked" (SQLite) or a statement timeout (PostgreSQL) is retried as often as
    it comes, without using up the attempts; the message is answered, once, when it clears."""
    monkeypatch.setenv("COMPTOIR_DB_STATEMENT_TIMEOUT_SECONDS", "0.3")
    bot = start_bot(inbox=False)
    worker = bot.runtime.inbox_worker
    worker.retry_delay = timedelta(0)
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert bot.send(body).status_code == 200
    frozen = make_engine(migrated_url)
    try:
        with _hold_the_seller_directory(frozen):
            assert worker.drain(limit=5) == 5  # more attempts than max_attempts (3)
            row = _status(bot.factory, body["event_id"])
            assert (row.status, row.attempts) == ("retry", 5)
            assert row.last_error is not None and (
                "locked" in row.last_error or "statement timeout" in row.last_error
            )
    finally:
        frozen.dispose()
    assert worker.drain() == 1
    assert _status(bot.factory, body["event_id"]).status == "done"
    bot.slack.wait_for(lambda: bot.slack.posts(thread_ts=body["event"]["ts"]))
    assert len(bot.slack.posts(thread_ts=body["event"]["ts"])) == 1


def test_a_wrong_query_is_not_a_busy_database(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, pytest.raises(DBAPIError) as caught:
        s.execute(text("SELECT * FROM no_such_table"))
    assert not transient(caught.value)  # retrying it forever would help nobody
