"""Slack gets its 200 before the answer is worked out; a broken answerer still gets the seller a reply."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from bot import slack_payloads as sp
from knowledge.types import Answer, Turn
from tests.bot.conftest import COMMISSION_FR, SHOP_FR, SQLITE_ONLY, Bot, FakeAnswerer


class HeldAnswerer:
    """Does not answer until the test lets it: stands for a slow model."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.returned = threading.Event()

    def answer(self, question: str, *, history: Sequence[Turn] = ()) -> Answer:
        self.started.set()
        self.release.wait(10)
        self.returned.set()
        return COMMISSION_FR


@SQLITE_ONLY
def test_ack_comes_before_the_answer_is_ready(start_bot: Callable[..., Bot]) -> None:
    answerer = HeldAnswerer()
    bot = start_bot(answerer=answerer, threads=True)  # the answer runs beside the test
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    # the answerer is held until we release it: a 200 now is an ack that did not wait for it
    # (how fast acks are is measured in bench.ack_latency, not asserted here)
    response = bot.send(body)
    assert response.status_code == 200
    assert answerer.started.wait(5)  # the work began after the ack...
    # ...and is not done: an ack that waited for the answer would come after answer() returned
    assert not answerer.returned.is_set() and bot.slack.posts() == []
    # meanwhile the seller already sees the bot is on it
    bot.slack.wait_for(lambda: bot.slack.reactions(timestamp=body["event"]["ts"]))
    answerer.release.set()
    bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR))


@SQLITE_ONLY
def test_answerer_failure_is_logged_and_the_seller_told(
    start_bot: Callable[..., Bot], caplog
) -> None:
    bot = start_bot(answerer=FakeAnswerer(fail=True))
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    bot.send(body)
    post = bot.slack.wait_for(
        lambda: bot.slack.posts(channel=SHOP_FR, thread_ts=body["event"]["ts"])
    )[0]
    assert "erreur de mon côté" in post.params["text"]
    assert "index unavailable" in (bot.wait_event(body["event_id"], "failed").note or "")
    assert any(r.exc_info for r in caplog.records if "failed" in r.getMessage())
    bot.slack.wait_for(lambda: bot.slack.reactions(added=False))  # the :eyes: does not stay forever
