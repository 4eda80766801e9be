"""A question whose answering died half-way is answered when its delivery is handled again.

The first transaction records the event and claims the question; the answer is written by a
second one. A worker that dies between the two (a crash, a database restart) leaves the event
"received" and the question "pending": the inbox hands the delivery over again (after a failed
attempt, or once the dead worker's lease runs out) and that attempt must answer, once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import slack_payloads as sp
from knowledge.types import Answer, Turn
from routing.db import utcnow
from routing.models import OutboxMessage
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
