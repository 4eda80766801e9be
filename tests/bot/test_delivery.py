"""Slack delivers at least once; Comptoir answers exactly once, across processes and restarts."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import select

from bot import slack_payloads as sp
from routing import outbox_store
from routing.models import Feedback
from tests.bot.conftest import SHOP_EN, SHOP_FR, Bot


def _answer_post_count(bot: Bot) -> int:
    with bot.factory() as s:
        return sum(1 for r in outbox_store.rows(s) if r.method == "chat.postMessage")


def test_retried_delivery_gives_no_second_answer_even_on_another_instance(
    start_bot: Callable[..., Bot],
) -> None:
    first, second = start_bot(), start_bot()  # two replicas on one database
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    assert first.send(body).status_code == 200
    first.slack.wait_for(lambda: first.slack.posts(channel=SHOP_FR))

    # Slack did not see our 200 in time and retries, to any replica
    assert first.send(body, retry_num=1).status_code == 200
    assert second.send(body, retry_num=2, retry_reason="http_error").status_code == 200
    first.close()
    second.close()  # waits for both replicas' listeners to finish

    assert _answer_post_count(first) == 1
    assert len(first.slack.posts(channel=SHOP_FR)) == 1
    assert len(first.questions()) == 1


def test_simultaneous_deliveries_to_two_replicas_give_one_answer(
    start_bot: Callable[..., Bot],
) -> None:
    first, second = start_bot(), start_bot()
    bodies = [
        sp.message_event(channel=SHOP_EN, text=f"What size must photos be? #{i}") for i in range(3)
    ]
    threads = [
        threading.Thread(target=bot.send, args=(body,), kwargs={"retry_num": n})
        for body in bodies
        for n, bot in ((None, first), (1, second))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first.close()
    second.close()
    assert _answer_post_count(first) == 3
    assert sorted(q.message_ts for q in first.questions()) == sorted(
        b["event"]["ts"] for b in bodies
    )


def test_restart_keeps_dedup(start_bot: Callable[..., Bot]) -> None:
    before = start_bot()
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission ?")
    before.send(body)
    before.wait_event(body["event_id"], "answered")
    before.close()
    after = start_bot()  # a new process, same database
    after.send(body, retry_num=3, retry_reason="timeout")
    after.close()
    assert _answer_post_count(after) == 1


def _answered(bot: Bot, channel: str, text: str) -> tuple[str, str, str]:
    """Ask, wait for the answer; return (question ts, answer ts, question id)."""
    body = sp.message_event(channel=channel, text=text)
    bot.send(body)
    ts = body["event"]["ts"]
    post = bot.slack.wait_for(lambda: bot.slack.posts(channel=channel, thread_ts=ts))[0]
    [action] = [b for b in post.params["blocks"] if b["type"] == "actions"]
    return ts, post.response["ts"], action["elements"][0]["value"]


def _feedback(bot: Bot) -> list[tuple[int, str, str | None]]:
    with bot.factory() as s:
        return [
            (f.question_id, f.kind, f.user_id)
            for f in s.scalars(select(Feedback).order_by(Feedback.id))
        ]


def test_resolved_click_recorded_once_and_shown(start_bot: Callable[..., Bot]) -> None:
    bot, replica = start_bot(), start_bot()
    root, answer_ts, qid = _answered(bot, SHOP_FR, "Quelle est la commission ?")
    click = sp.block_actions(
        action_id="answer_resolved",
        value=qid,
        channel=SHOP_FR,
        message_ts=answer_ts,
        thread_ts=root,
    )
    assert bot.send(click).status_code == 200
    update = bot.slack.wait_for(lambda: bot.slack.updates(channel=SHOP_FR, ts=answer_ts))[0]
    assert [b["type"] for b in update.params["blocks"]] == [
        "section",
        "context",
        "context",
    ]  # buttons gone
    assert "Marqué comme résolu" in str(update.params["blocks"][-1])
    assert "12 %" in update.params["text"]  # the answer itself stays

    # the same click delivered again, to the same or another replica
    assert bot.send(click).status_code == 200
    assert replica.send(click).status_code == 200
    bot.close()
    replica.close()
    assert _feedback(bot) == [(int(qid), "resolved", "U0SELLER1")]
    assert len(bot.slack.updates(channel=SHOP_FR)) == 1


def test_human_click_opens_a_ticket_shown_in_thread(bot: Bot) -> None:
    root, answer_ts, qid = _answered(bot, SHOP_EN, "What size must product photos be?")
    click = sp.block_actions(
        action_id="answer_human", value=qid, channel=SHOP_EN, message_ts=answer_ts, thread_ts=root
    )
    bot.send(click)
    handoff = bot.slack.wait_for(
        lambda: len(bot.slack.posts(thread_ts=root)) == 2 and bot.slack.posts(thread_ts=root)
    )[1]
    # the hand-off is the ticket card: number, level, when a human answers (English seller)
    assert "Ticket *#1001* opened · level 1." in handoff.params["text"]
    assert "A member of the team will answer " in handoff.params["text"]
    update = bot.slack.wait_for(lambda: bot.slack.updates(ts=answer_ts))[0]
    assert "You asked for a human" in str(update.params["blocks"])
    bot.send(click)
    bot.close()
    assert _feedback(bot) == [(int(qid), "human", "U0SELLER1")]
    assert len(bot.slack.posts(thread_ts=root)) == 2


def test_click_naming_another_channels_question_is_refused(bot: Bot) -> None:
    _, answer_ts, qid = _answered(bot, SHOP_FR, "Quelle est la commission ?")
    # a button payload claiming to come from another seller's channel
    click = sp.block_actions(
        action_id="answer_human", value=qid, channel=SHOP_EN, message_ts=answer_ts
    )
    assert bot.send(click).status_code == 200
    garbage = sp.block_actions(
        action_id="answer_human", value="not-a-number", channel=SHOP_FR, message_ts=answer_ts
    )
    assert bot.send(garbage).status_code == 200
    bot.close()
    assert _feedback(bot) == []
    assert bot.slack.updates() == []
