"""A question whose answering died half-way is answered when its delivery is handled again.

The first transaction records the event and claims the question; the answer is written by a
second one. A worker that dies between the two (a crash, a database restart) leaves the event
"received" and the question "pending": the inbox hands the delivery over again (after a failed
attempt, or once the dead worker's lease runs out) and that attempt must answer, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import slack_payloads as sp
from bot.inbox import InboxWorker
from bot.listeners.answering import take_message
from bot.listeners.parsing import Ignored, parse_message
from knowledge.types import Answer, Turn
from routing.db import utcnow
from routing.models import InboxEvent, OutboxMessage
from tests.bot.conftest import COMMISSION_FR, SHOP_FR, Bot, FakeAnswerer, poll


class Crash(BaseException):
    """The process dying mid-answer: nothing between the answerer and the worker catches it."""


class CrashOnce:
    def __init__(self, inner: FakeAnswerer) -> None:
        self.inner = inner
        self.calls = 0

    def answer(self, question: str, *, history: Sequence[Turn] = ()) -> Answer:
        self.calls += 1
        if self.calls == 1:
            raise Crash
        return self.inner.answer(question, history=history)


def _outbox_settled(bot: Bot) -> bool:
    with bot.factory() as s:
        return not s.scalars(select(OutboxMessage).where(OutboxMessage.status != "sent")).all()


def test_a_question_whose_worker_died_mid_answer_is_answered_by_the_next_claim(
    start_bot: Callable[..., Bot],
) -> None:
    answerer = CrashOnce(FakeAnswerer(answers={"commission": COMMISSION_FR}))
    bot = start_bot(answerer=answerer, inbox=False)
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert bot.send(body).status_code == 200
    with pytest.raises(Crash):
        bot.runtime.inbox_worker.work_once()  # claims, takes the message, dies answering
    # what the crash leaves: the question claimed but pending, the event not decided
    assert [q.mode for q in bot.questions()] == ["pending"]
    assert bot.event_status(body["event_id"]) == "received"
    assert bot.runtime.inbox_worker.drain() == 0  # still leased to the dead worker

    bot.runtime.inbox_worker.clock = lambda: utcnow() + timedelta(minutes=6)  # lease over
    assert bot.runtime.inbox_worker.drain() == 1
    assert bot.wait_event(body["event_id"], "answered")
    poll(lambda: _outbox_settled(bot), what="outbox delivered")
    posts = bot.slack.posts(thread_ts=body["event"]["ts"])
    assert len(posts) == 1 and "12 %" in posts[0].params["text"]
    # the working reaction was shown once and taken away once
    assert len(bot.slack.reactions(timestamp=body["event"]["ts"])) == 1
    assert len(bot.slack.reactions(added=False, timestamp=body["event"]["ts"])) == 1
    assert answerer.calls == 2


def test_an_answered_question_is_not_answered_again_when_its_delivery_comes_back(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot(answerer=FakeAnswerer(answers={"commission": COMMISSION_FR}), inbox=False)
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert bot.send(body).status_code == 200
    assert bot.runtime.inbox_worker.drain() == 1
    assert bot.wait_event(body["event_id"], "answered")
    # the same delivery handled again (a worker that lost its lease after answering)
    bot.runtime.inbox_worker.dispatch(body)
    poll(lambda: _outbox_settled(bot), what="outbox delivered")
    assert len(bot.slack.posts(thread_ts=body["event"]["ts"])) == 1


class FreezeOnce:
    """The first answer waits while `meanwhile` runs: a worker frozen mid-answer."""

    def __init__(self, inner: FakeAnswerer) -> None:
        self.inner = inner
        self.calls = 0
        self.meanwhile: Callable[[], None] = lambda: None

    def answer(self, question: str, *, history: Sequence[Turn] = ()) -> Answer:
        self.calls += 1
        if self.calls == 1:
            self.meanwhile()
        return self.inner.answer(question, history=history)


def test_a_worker_frozen_past_its_lease_posts_nothing_and_the_new_owner_answers_once(
    start_bot: Callable[..., Bot],
) -> None:
    """The issue's PostgreSQL double answer: the frozen worker had claimed the question, the
    next claim resumed it, and both recorded and queued their answer. Now the frozen one's
    answer transaction checks its claim last and rolls back."""
    answerer = FreezeOnce(FakeAnswerer(answers={"commission": COMMISSION_FR}))
    bot = start_bot(answerer=answerer, inbox=False)
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert bot.send(body).status_code == 200
    now = utcnow()
    frozen = bot.runtime.inbox_worker
    frozen.clock = lambda: now
    frozen.heartbeat = timedelta(0)  # frozen: its heartbeat does not beat either
    live = InboxWorker(bot.factory, frozen.dispatch, clock=lambda: now, heartbeat=timedelta(0))
    took_over: list[int] = []

    def while_frozen() -> None:
        nonlocal now
        now += frozen.lease + timedelta(seconds=1)
        thread = threading.Thread(target=lambda: took_over.append(live.drain()))
        thread.start()  # another worker, in its own thread as in its own process
        thread.join()

    answerer.meanwhile = while_frozen
    assert frozen.work_once() == body["event_id"]
    assert took_over == [1] and answerer.calls == 2
    assert bot.event_status(body["event_id"]) == "answered"
    row = _inbox_row(bot, body["event_id"])
    assert (row.status, row.attempts) == ("done", 2)  # the live worker's claim settled it
    with bot.factory() as s:
        queued = s.scalars(
            select(OutboxMessage).where(OutboxMessage.method == "chat.postMessage")
        ).all()
    assert len(queued) == 1
    poll(lambda: _outbox_settled(bot), what="outbox delivered")
    assert len(bot.slack.posts(thread_ts=body["event"]["ts"])) == 1
    assert len(bot.slack.reactions(added=False, timestamp=body["event"]["ts"])) == 1


def _inbox_row(bot: Bot, event_id: str) -> InboxEvent:
    with bot.factory() as s:
        row = s.get(InboxEvent, event_id)
        assert row is not None
        return row


def _fail_every_time(body: dict[str, Any]) -> None:
    raise RuntimeError("a listener bug")


def test_a_message_failing_for_good_tells_the_seller_and_opens_a_ticket(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot(inbox=False)
    worker = bot.runtime.inbox_worker
    worker.retry_delay = timedelta(0)
    worker.dispatch = _fail_every_time  # fails before anything is recorded
    body = sp.message_event(channel=SHOP_FR, text="Comment modifier mon RIB ?")
    assert bot.send(body).status_code == 200
    assert worker.drain() == 3
    row = _inbox_row(bot, body["event_id"])
    assert (row.status, row.last_error) == ("failed", "RuntimeError: a listener bug")
    assert bot.event_status(body["event_id"]) == "failed"
    [question] = bot.questions()
    assert question.mode == "error"
    [ticket] = bot.tickets()
    assert (ticket.level, ticket.thread_ts) == (1, body["event"]["ts"])
    poll(lambda: _outbox_settled(bot), what="outbox delivered")
    texts = [p.params["text"] for p in bot.slack.posts(thread_ts=body["event"]["ts"])]
    # in the seller's language: a person takes over, and the ticket's card
    assert sum("Un membre de l'équipe support va prendre le relais" in t for t in texts) == 1
    assert sum("#1001" in t for t in texts) == 1, texts


def test_a_problem_that_failed_half_way_keeps_its_level_when_handed_over(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot(inbox=False)
    worker = bot.runtime.inbox_worker
    worker.retry_delay = timedelta(0)

    def fail_after_taking_it(body: dict[str, Any]) -> None:
        message = parse_message(body)
        assert not isinstance(message, Ignored)
        take_message(bot.runtime.deps, message)  # recorded, question claimed, reaction queued
        raise RuntimeError("a listener bug")

    worker.dispatch = fail_after_taking_it
    body = sp.message_event(channel=SHOP_FR, text="Notre compte vendeur est suspendu.")
    assert bot.send(body).status_code == 200
    assert worker.drain() == 3
    assert _inbox_row(bot, body["event_id"]).status == "failed"
    [question] = bot.questions()  # the question the first attempt claimed, handed over once
    assert question.mode == "error"
    [ticket] = bot.tickets()
    assert ticket.level == 3  # the classifier's judgement, not a plain Level 1
    poll(lambda: _outbox_settled(bot), what="outbox delivered")
    texts = [p.params["text"] for p in bot.slack.posts(thread_ts=body["event"]["ts"])]
    assert sum("va prendre le relais" in t for t in texts) == 1, texts
    # the working reaction was shown once (by the first attempt) and taken away
    assert len(bot.slack.reactions(timestamp=body["event"]["ts"])) == 1
    assert len(bot.slack.reactions(added=False, timestamp=body["event"]["ts"])) == 1


def test_a_message_answered_before_its_attempt_failed_is_not_handed_over_too(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot(inbox=False)
    worker = bot.runtime.inbox_worker
    worker.retry_delay = timedelta(0)
    dispatch = worker.dispatch

    def answer_then_fail(body: dict[str, Any]) -> None:
        dispatch(body)
        raise RuntimeError("a bug after the answer")

    worker.dispatch = answer_then_fail
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert bot.send(body).status_code == 200
    assert worker.drain() == 3
    assert _inbox_row(bot, body["event_id"]).status == "failed"
    assert bot.event_status(body["event_id"]) == "answered"
    assert bot.tickets() == []
    poll(lambda: _outbox_settled(bot), what="outbox delivered")
    [post] = bot.slack.posts(thread_ts=body["event"]["ts"])
    assert "12 %" in post.params["text"]
