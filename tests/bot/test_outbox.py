"""Slack misbehaving (429, 5xx, timeouts, permanent errors) loses no answer and sends none twice.

The worker is off here: each test calls `deliver_due(now=...)` itself, moving `now` forward
instead of sleeping, and reads what Slack received from the stand-in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from bot import slack_payloads as sp
from bot.outbox import Outbox
from routing import outbox_store
from routing.db import transaction, utcnow
from routing.models import OutboxMessage
from tests.bot.conftest import SHOP_EN, SHOP_FR, Bot, poll


def _queued_answer(
    bot: Bot, channel: str = SHOP_FR, text: str = "Quelle est la commission ?"
) -> str:
    """Ask through the endpoint and wait until the answer sits in the outbox; return the ts."""
    body = sp.message_event(channel=channel, text=text)
    bot.send(body)
    bot.wait_event(body["event_id"], "answered")
    return str(body["event"]["ts"])


def _rows(bot: Bot) -> list[OutboxMessage]:
    with bot.factory() as s:
        return outbox_store.rows(s)


def _slack_methods(bot: Bot) -> list[str]:
    return [c.method for c in bot.slack.calls() if c.method != "auth.test"]


def test_rate_limited_call_waits_for_retry_after_then_goes_once(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot(worker=False)
    ts = _queued_answer(bot)
    bot.slack.fail_next(1, status=429, retry_after=30)
    t0 = utcnow()

    first = bot.runtime.outbox.deliver_due(now=t0)
    assert (first.sent, first.retried) == (0, 1)
    assert _slack_methods(bot) == []  # nothing overtook the rate-limited reaction
    early = bot.runtime.outbox.deliver_due(now=t0 + timedelta(seconds=29))
    assert (early.sent, early.retried) == (0, 0)
    assert len(bot.slack.requests("reactions.add")) == 1  # Retry-After honoured: no call before it

    late = bot.runtime.outbox.deliver_due(now=t0 + timedelta(seconds=31))
    assert late.sent == 3
    assert _slack_methods(bot) == ["reactions.add", "chat.postMessage", "reactions.remove"]
    assert len(bot.slack.posts(thread_ts=ts)) == 1
    reaction = _rows(bot)[0]
    assert (reaction.status, reaction.attempts) == ("sent", 2)
    assert [c.outcome for c in bot.slack.requests("reactions.add")] == ["http_429", "ok"]


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_then_success_delivers_once(
    start_bot: Callable[..., Bot], status: int
) -> None:
    bot = start_bot(worker=False)
    ts = _queued_answer(bot)
    bot.slack.fail_next(2, status=status, methods=["chat.postMessage"])
    t0 = utcnow()
    report = bot.runtime.outbox.deliver_due(now=t0)
    assert (report.sent, report.retried) == (1, 1)  # the reaction went, the answer waits
    assert bot.runtime.outbox.deliver_due(now=t0 + timedelta(seconds=1)).retried == 1
    assert (
        bot.runtime.outbox.deliver_due(now=t0 + timedelta(seconds=2)).sent == 0
    )  # backoff: 2 s now
    assert bot.runtime.outbox.deliver_due(now=t0 + timedelta(seconds=4)).sent == 2
    assert len(bot.slack.posts(thread_ts=ts)) == 1
    assert [c.outcome for c in bot.slack.requests("chat.postMessage")] == [f"http_{status}"] * 2 + [
        "ok"
    ]


def test_timeout_then_success_delivers(start_bot: Callable[..., Bot]) -> None:
    bot = start_bot(worker=False, slack_timeout=0.3)
    ts = _queued_answer(bot)
    bot.slack.hang_next(1, seconds=3, methods=["chat.postMessage"])
    t0 = utcnow()
    report = bot.runtime.outbox.deliver_due(now=t0)
    assert report.retried == 1
    post_row = next(r for r in _rows(bot) if r.method == "chat.postMessage")
    assert post_row.status == "pending" and "imeout" in (post_row.last_error or "")
    bot.runtime.outbox.deliver_due(now=t0 + timedelta(seconds=2))
    assert len(bot.slack.posts(thread_ts=ts)) == 1


def test_permanent_error_marks_the_row_failed_and_moves_on(
    start_bot: Callable[..., Bot], caplog: pytest.LogCaptureFixture
) -> None:
    bot = start_bot(worker=False)
    _queued_answer(bot)
    bot.slack.error_next(1, error="not_in_channel", methods=["chat.postMessage"])
    t0 = utcnow()
    report = bot.runtime.outbox.deliver_due(now=t0)
    assert (report.sent, report.failed) == (2, 1)
    failed = [r for r in _rows(bot) if r.status == "failed"]
    assert [(r.method, r.last_error) for r in failed] == [("chat.postMessage", "not_in_channel")]
    assert any("not_in_channel" in r.getMessage() for r in caplog.records)
    # never retried, however long we wait
    bot.runtime.outbox.deliver_due(now=t0 + timedelta(days=1))
    assert len(bot.slack.requests("chat.postMessage")) == 1


def test_a_stalled_thread_does_not_hold_up_another(start_bot: Callable[..., Bot]) -> None:
    bot = start_bot(worker=False)
    fr = _queued_answer(bot, SHOP_FR)
    en = _queued_answer(bot, SHOP_EN, "What size must photos be?")
    bot.slack.fail_next(1, status=429, retry_after=60, methods=["reactions.add"])
    bot.runtime.outbox.deliver_due(now=utcnow())
    assert bot.slack.posts(thread_ts=fr) == []
    assert len(bot.slack.posts(thread_ts=en)) == 1


def test_worker_delivers_after_slack_comes_back(start_bot: Callable[..., Bot]) -> None:
    bot = start_bot(worker=True)
    bot.slack.fail_next(1, status=429, retry_after=0.5)
    ts = _queued_answer(bot)
    post = bot.slack.wait_for(lambda: bot.slack.posts(thread_ts=ts))[0]
    limited = bot.slack.requests()[1]
    assert limited.outcome == "http_429"
    assert post.at - limited.at >= 0.45  # the worker slept until Retry-After, not less


def test_two_workers_never_send_the_same_row(start_bot: Callable[..., Bot]) -> None:
    bot = start_bot(worker=False)
    now = utcnow()
    with transaction(bot.factory) as s:
        for i in range(30):
            outbox_store.enqueue(
                s,
                method="chat.postMessage",
                payload={"channel": SHOP_FR, "text": f"message {i}"},
                ordering_key=f"{SHOP_FR}:{i % 3}",  # three threads, ten messages each
                now=now,
            )
    client = WebClient(token=bot.slack.token, base_url=bot.slack.url, retry_handlers=[])
    workers = [Outbox(bot.factory, client, batch=4) for _ in range(3)]
    threads = [threading.Thread(target=w.deliver_due) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bot.runtime.outbox.deliver_due()  # whatever a busy worker left (lock contention) goes now
    texts = [c.get("text") for c in bot.slack.posts(channel=SHOP_FR)]
    assert sorted(texts) == sorted(f"message {i}" for i in range(30))  # each exactly once
    for thread in range(3):
        mine = [int(t.split()[1]) for t in texts if int(t.split()[1]) % 3 == thread]
        assert mine == sorted(mine)  # in order within a thread


def test_lease_of_a_dead_worker_runs_out_and_the_row_is_sent(start_bot: Callable[..., Bot]) -> None:
    bot = start_bot(worker=False)
    t0 = utcnow()
    with transaction(bot.factory) as s:
        outbox_store.enqueue(
            s,
            method="chat.postMessage",
            payload={"channel": SHOP_FR, "text": "hello"},
            ordering_key=None,
            now=t0,
        )
    with transaction(bot.factory) as s:  # a worker claims the row, then its process dies
        assert len(outbox_store.claim_due(s, now=t0, lease=timedelta(seconds=60))) == 1
    assert bot.runtime.outbox.deliver_due(now=t0 + timedelta(seconds=30)).sent == 0
    assert bot.runtime.outbox.deliver_due(now=t0 + timedelta(seconds=61)).sent == 1
    poll(lambda: bot.slack.posts(channel=SHOP_FR))
