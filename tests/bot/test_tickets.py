"""Tickets through the real endpoint: a seller's problem, the triage card and its buttons, the
Level 3 escalation, the seller's replies and the satisfaction question."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from bot import slack_payloads as sp
from bot import ticket_blocks as tb
from routing.models import RelevelExample
from tests.bot.conftest import (
    ACCOUNT_MANAGER,
    AGENT,
    AGENT2,
    LEAD,
    SHOP_EN,
    SHOP_FR,
    SHOP_NO_AM,
    SQLITE_ONLY,
    TRIAGE,
    Bot,
)

SUSPENDED = "Bonjour, mon compte est suspendu depuis ce matin, je ne peux plus vendre"
PAYOUT = "Mon versement de mars est bloqué alors que la commission a été prélevée"


def _text(call: Any) -> str:
    return json.dumps(call.params, ensure_ascii=False)


def _triage_cards(bot: Bot) -> list[Any]:
    return [
        c
        for c in bot.slack.posts(channel=TRIAGE)
        if (c.get("metadata") or {}).get("event_type") == tb.CARD_EVENT
    ]


def _open(bot: Bot, text: str, channel: str = SHOP_FR) -> tuple[str, Any]:
    """Send a problem; return the seller thread and the ticket once its triage card landed."""
    body = sp.message_event(channel=channel, text=text)
    assert bot.send(body).status_code == 200
    ticket = bot.wait_ticket(lambda t: t.triage_ts is not None and t.seller_card_ts is not None)
    return body["event"]["ts"], ticket


def _click(bot: Bot, ticket: Any, action_id: str, user: str) -> dict[str, Any]:
    body = sp.block_actions(
        action_id=action_id,
        value=str(ticket.id),
        channel=TRIAGE,
        message_ts=ticket.triage_ts,
        user=user,
        block_id=f"ticket:{ticket.id}",
    )
    assert bot.send(body).status_code == 200
    return body


def test_level3_problem_opens_ticket_with_cards_and_tells_the_account_manager(bot: Bot) -> None:
    root, ticket = _open(bot, SUSPENDED)

    assert (ticket.number, ticket.level, ticket.kind, ticket.status) == (1001, 3, "problem", "open")
    assert ticket.channel_id == SHOP_FR and ticket.thread_ts == root and ticket.question_id
    # the seller's card, in their thread and language, says when a human answers in words
    card = bot.slack.wait_for(lambda: bot.slack.posts(channel=SHOP_FR, thread_ts=root))[0]
    assert "Ticket *#1001* ouvert · niveau 3." in card.params["text"]
    assert "Un membre de l'équipe vous répond " in card.params["text"]
    assert "avant" in card.params["text"] or "d'ici" in card.params["text"]
    # the triage card: the ticket and its four controls
    [triage] = _triage_cards(bot)
    assert "Ticket #1001 · niveau 3 · Maison Lune" in triage.params["text"]
    controls = [
        e["action_id"]
        for b in triage.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert controls == [tb.ACTION_CLAIM, tb.ACTION_RELEVEL, tb.ACTION_WAIT, tb.ACTION_RESOLVE]
    assert "Level 3: account suspension" in _text(triage)
    # Level 3 at once: the account manager by DM, the lead tagged in triage
    dm = bot.slack.wait_for(lambda: bot.slack.posts(channel=ACCOUNT_MANAGER))[0]
    assert "Niveau 3 pour Maison Lune · ticket #1001" in dm.params["text"]
    tag = bot.slack.wait_for(
        lambda: [c for c in bot.slack.posts(channel=TRIAGE) if f"<@{LEAD}>" in c.params["text"]]
    )[0]
    assert f"<@{ACCOUNT_MANAGER}>" in tag.params["text"]
    assert "<!" not in _text(tag)
    assert ("opened", None) in bot.ticket_events(ticket.id)
    assert ("escalated", None) in bot.ticket_events(ticket.id)
    [question] = bot.questions()
    assert question.id == ticket.question_id and question.text == SUSPENDED


@SQLITE_ONLY  # who is told: the database plays no part
def test_level3_without_account_manager_goes_to_the_lead_and_the_gap_is_said(bot: Bot) -> None:
    _, ticket = _open(bot, SUSPENDED, channel=SHOP_NO_AM)
    dm = bot.slack.wait_for(lambda: bot.slack.posts(channel=LEAD))[0]
    assert "Atelier Sans Contact" in dm.params["text"]
    tag = bot.slack.wait_for(
        lambda: [c for c in bot.slack.posts(channel=TRIAGE) if f"<@{LEAD}>" in c.params["text"]]
    )[0]
    assert "Aucun responsable de compte" in tag.params["text"]
    assert ("escalation_gap", None) in bot.ticket_events(ticket.id)
    assert bot.slack.posts(channel=ACCOUNT_MANAGER) == []


@SQLITE_ONLY
def test_level2_problem_gets_the_guideline_passage_under_its_card(bot: Bot) -> None:
    root, ticket = _open(bot, PAYOUT)
    assert ticket.level == 2
    posts = bot.slack.wait_for(
        lambda: len(bot.slack.posts(thread_ts=root)) == 2 and bot.slack.posts(thread_ts=root)
    )
    assert "Ticket *#1001* ouvert · niveau 2." in posts[0].params["text"]
    assert "En attendant, voici ce que disent les guides" in posts[1].params["text"]
    assert "12 %" in posts[1].params["text"]
    assert not any(b["type"] == "actions" for b in posts[1].params["blocks"])  # a human is coming
    bot.close()
    assert bot.slack.posts(channel=ACCOUNT_MANAGER) == []  # Level 2: no escalation at once


def test_question_is_answered_and_opens_no_ticket(bot: Bot) -> None:
    body = sp.message_event(channel=SHOP_FR, text="Quelle est la commission sur la mode ?")
    bot.send(body)
    bot.wait_event(body["event_id"], "answered")
    bot.close()
    assert bot.tickets() == []
    assert bot.slack.posts(channel=TRIAGE) == []
    [answer] = bot.slack.posts(channel=SHOP_FR)
    assert "12 %" in answer.params["text"]


@SQLITE_ONLY
def test_abstention_promises_a_human_and_opens_a_level1_ticket(bot: Bot) -> None:
    body = sp.message_event(channel=SHOP_EN, text="Can you deliver my parcels to Mars?")
    bot.send(body)
    ticket = bot.wait_ticket()
    assert (ticket.level, ticket.kind) == (1, "question")
    posts = bot.slack.wait_for(
        lambda: (
            len(bot.slack.posts(thread_ts=body["event"]["ts"])) == 2
            and bot.slack.posts(thread_ts=body["event"]["ts"])
        )
    )
    assert "I can't find a reliable answer" in posts[0].params["text"]
    assert "Ticket *#1001* opened · level 1." in posts[1].params["text"]


def test_human_click_opens_a_ticket_at_the_classifier_level(bot: Bot) -> None:
    body = sp.message_event(channel=SHOP_FR, text="Quelle commission sur un litige client ?")
    root = body["event"]["ts"]
    bot.send(body)
    answer = bot.slack.wait_for(lambda: bot.slack.posts(thread_ts=root))[0]
    qid = answer.params["blocks"][-1]["elements"][1]["value"]
    click = sp.block_actions(
        action_id="answer_human", value=qid, channel=SHOP_FR, message_ts=answer.response["ts"]
    )
    bot.send(click)
    ticket = bot.wait_ticket(lambda t: t.triage_ts is not None)
    assert ticket.level == 2  # the classifier's level, higher than 1
    assert ticket.question_id == int(qid) and ticket.thread_ts == root
    card = bot.slack.wait_for(
        lambda: len(bot.slack.posts(thread_ts=root)) == 2 and bot.slack.posts(thread_ts=root)
    )[1]
    assert "Ticket *#1001* ouvert · niveau 2." in card.params["text"]
    assert ("opened", "U0SELLER1") in bot.ticket_events(ticket.id)


def test_claim_by_staff_updates_the_card_and_others_are_refused(bot: Bot) -> None:
    _, ticket = _open(bot, PAYOUT)
    outsider = _click(bot, ticket, tb.ACTION_CLAIM, user="U0SELLER1")
    refusal = bot.slack.wait_for(lambda: bot.slack.ephemerals(user="U0SELLER1"))[0]
    assert "Seule l'équipe support" in refusal.params["text"]
    assert refusal.params["channel"] == TRIAGE
    assert bot.wait_ticket().status == "open" and bot.wait_ticket().owner_id is None

    _click(bot, ticket, tb.ACTION_CLAIM, user=AGENT)
    update = bot.slack.wait_for(lambda: bot.slack.updates(channel=TRIAGE, ts=ticket.triage_ts))[0]
    assert f"pris par <@{AGENT}>" in update.params["text"]
    controls = [
        e["action_id"]
        for b in update.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert tb.ACTION_CLAIM not in controls
    claimed = bot.wait_ticket(lambda t: t.owner_id == AGENT)
    assert claimed.status == "claimed"
    # the outsider's click, delivered again, still changes nothing and says nothing twice
    bot.send(outsider)
    bot.close()
    assert bot.ticket_events(ticket.id).count(("claimed", AGENT)) == 1
    assert len(bot.slack.ephemerals(user="U0SELLER1")) == 1


def test_two_staff_claim_at_once_one_wins_the_other_is_told_who(bot: Bot) -> None:
    _, ticket = _open(bot, PAYOUT)
    bodies = [
        sp.block_actions(
            action_id=tb.ACTION_CLAIM,
            value=str(ticket.id),
            channel=TRIAGE,
            message_ts=ticket.triage_ts,
            user=user,
            block_id=f"ticket:{ticket.id}",
        )
        for user in (AGENT, AGENT2)
    ]
    threads = [threading.Thread(target=bot.send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    told = bot.slack.wait_for(lambda: bot.slack.ephemerals())
    winner = bot.wait_ticket(lambda t: t.owner_id is not None).owner_id
    loser = AGENT2 if winner == AGENT else AGENT
    assert [c.get("user") for c in told] == [loser]
    assert f"déjà pris par <@{winner}>" in told[0].params["text"]
    bot.close()
    claims = [e for e in bot.ticket_events(ticket.id) if e[0] == "claimed"]
    assert claims == [("claimed", winner)]


@SQLITE_ONLY
def test_a_click_delivered_twice_changes_things_once(bot: Bot) -> None:
    _, ticket = _open(bot, PAYOUT)
    body = _click(bot, ticket, tb.ACTION_WAIT, user=AGENT)
    bot.wait_ticket(lambda t: t.status == "waiting_on_seller")
    bot.send(body)
    bot.send(body)
    bot.close()
    assert [k for k, _ in bot.ticket_events(ticket.id)].count("waiting_on_seller") == 1
    assert len(bot.slack.updates(channel=TRIAGE)) == 1
    assert bot.slack.ephemerals() == []


def test_change_level_to_3_restarts_clocks_escalates_and_keeps_the_example(bot: Bot) -> None:
    _, ticket = _open(bot, PAYOUT)
    select = sp.select_action(
        action_id=tb.ACTION_RELEVEL,
        block_id=f"ticket:{ticket.id}",
        value="3",
        channel=TRIAGE,
        message_ts=ticket.triage_ts,
        user=LEAD,
    )
    bot.send(select)
    relevelled = bot.wait_ticket(lambda t: t.level == 3)
    assert relevelled.status == "open"
    update = bot.slack.wait_for(lambda: bot.slack.updates(channel=TRIAGE, ts=ticket.triage_ts))[0]
    assert "niveau 3" in update.params["text"]
    dm = bot.slack.wait_for(lambda: bot.slack.posts(channel=ACCOUNT_MANAGER))[0]
    assert "ticket #1001" in dm.params["text"]
    with bot.factory() as s:
        [example] = s.query(RelevelExample).all()
        assert (example.level, example.by_user, example.text) == (3, LEAD, PAYOUT)
    # a forged level is refused before anything changes
    forged = sp.select_action(
        action_id=tb.ACTION_RELEVEL,
        block_id=f"ticket:{ticket.id}",
        value="7",
        channel=TRIAGE,
        message_ts=ticket.triage_ts,
        user=LEAD,
    )
    bot.send(forged)
    bot.close()
    assert [k for k, _ in bot.ticket_events(ticket.id)].count("relevelled") == 1


def test_waiting_on_seller_then_the_seller_replies_and_the_ticket_resumes(bot: Bot) -> None:
    root, ticket = _open(bot, PAYOUT)
    _click(bot, ticket, tb.ACTION_WAIT, user=AGENT)
    bot.wait_ticket(lambda t: t.status == "waiting_on_seller")
    paused = bot.slack.wait_for(lambda: bot.slack.updates(channel=TRIAGE))[0]
    assert "en attente du vendeur" in paused.params["text"]
    threads_before = len(bot.slack.posts(thread_ts=root))

    reply = sp.message_event(
        channel=SHOP_FR, text="Voici le numéro de commande : 4411", thread_ts=root
    )
    bot.send(reply)
    assert bot.wait_event(reply["event_id"], "ticket_reply")
    resumed = bot.wait_ticket(lambda t: t.status == "open")
    assert resumed.owner_id is None
    bot.slack.wait_for(lambda: len(bot.slack.updates(channel=TRIAGE)) == 2)
    assert "🟡" in bot.slack.updates(channel=TRIAGE)[-1].params["text"]
    bot.close()
    assert len(bot.slack.posts(thread_ts=root)) == threads_before  # no bot answer to a reply
    assert ("seller_replied", "U0SELLER1") in bot.ticket_events(ticket.id)


def test_staff_reply_in_the_thread_is_the_first_response_and_gets_no_answer(bot: Bot) -> None:
    root, ticket = _open(bot, PAYOUT)
    answer = sp.message_event(
        channel=SHOP_FR, user=AGENT, text="Je regarde votre versement tout de suite", thread_ts=root
    )
    bot.send(answer)
    bot.wait_event(answer["event_id"], "staff")
    replied = bot.wait_ticket(lambda t: t.first_response_at is not None)
    assert replied.status == "open"
    update = bot.slack.wait_for(lambda: bot.slack.updates(channel=TRIAGE))[0]
    assert "Première réponse donnée" in _text(update)
    bot.close()
    assert ("staff_replied", AGENT) in bot.ticket_events(ticket.id)
    assert all(AGENT not in c.get("text", "") for c in bot.slack.posts(thread_ts=root))
    assert len([q for q in bot.questions() if q.user_id == AGENT]) == 0


def test_resolve_asks_the_seller_and_no_reopens(bot: Bot) -> None:
    root, ticket = _open(bot, PAYOUT, channel=SHOP_EN)
    _click(bot, ticket, tb.ACTION_RESOLVE, user=AGENT)
    bot.wait_ticket(lambda t: t.status == "resolved")
    question = bot.slack.wait_for(
        lambda: [
            c
            for c in bot.slack.posts(thread_ts=root)
            if "Is your problem solved?" in c.params["text"]
        ]
    )[0]
    labels = [
        e["text"]["text"]
        for b in question.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert labels == ["Yes, it's solved", "No, not yet"]
    resolved_card = bot.slack.wait_for(lambda: bot.slack.updates(channel=TRIAGE))[0]
    assert not any(b["type"] == "actions" for b in resolved_card.params["blocks"])

    no = sp.block_actions(
        action_id=tb.ACTION_SOLVED_NO,
        value=str(ticket.id),
        channel=SHOP_EN,
        message_ts=question.response["ts"],
        thread_ts=root,
    )
    bot.send(no)
    reopened = bot.wait_ticket(lambda t: t.status == "open")
    assert reopened.satisfaction == "no"
    answered = bot.slack.wait_for(
        lambda: bot.slack.updates(channel=SHOP_EN, ts=question.response["ts"])
    )[0]
    assert "reopened" in answered.params["text"]
    bot.slack.wait_for(lambda: len(bot.slack.updates(channel=TRIAGE)) == 2)
    # the same "no" again, or a late "yes": nothing more
    bot.send(no)
    yes = sp.block_actions(
        action_id=tb.ACTION_SOLVED_YES,
        value=str(ticket.id),
        channel=SHOP_EN,
        message_ts=question.response["ts"],
        thread_ts=root,
    )
    bot.send(yes)
    bot.close()
    kinds = [k for k, _ in bot.ticket_events(ticket.id)]
    assert kinds.count("reopened") == 1 and kinds.count("satisfaction") == 1
    assert bot.tickets()[0].status == "open"


@SQLITE_ONLY
def test_a_button_from_another_channel_is_ignored(bot: Bot) -> None:
    _, ticket = _open(bot, PAYOUT)
    forged = sp.block_actions(
        action_id=tb.ACTION_RESOLVE,
        value=str(ticket.id),
        channel=SHOP_EN,
        message_ts=ticket.triage_ts,
        user=AGENT,
    )
    bot.send(forged)
    garbage = sp.block_actions(
        action_id=tb.ACTION_RESOLVE,
        value="drop table",
        channel=TRIAGE,
        message_ts="1.2",
        user=AGENT,
    )
    bot.send(garbage)
    bot.close()
    assert bot.tickets()[0].status == "open"
    assert bot.slack.updates() == [] and bot.slack.ephemerals() == []


@SQLITE_ONLY
def test_the_shipped_classifier_opens_a_level3_ticket_end_to_end(
    start_bot: Callable[..., Bot],
) -> None:
    from routing.classify import Classifier

    bot = start_bot(classifier=Classifier.load())
    calm = sp.message_event(
        channel=SHOP_FR,
        text="Bonjour, mon compte vendeur a été suspendu ce matin sans explication.",
    )
    question = sp.message_event(channel=SHOP_FR, text="Quelle est la commission sur la mode ?")
    bot.send(calm)
    bot.send(question)
    ticket = bot.wait_ticket(lambda t: t.triage_ts is not None)
    assert (ticket.level, ticket.kind, ticket.category) == (3, "problem", "account")
    bot.wait_event(question["event_id"], "answered")
    bot.close()
    assert len(bot.tickets()) == 1  # the question got its answer, not a ticket


@SQLITE_ONLY
def test_a_card_still_queued_when_the_ticket_moves_is_brought_up_to_date(
    start_bot: Callable[..., Bot],
) -> None:
    # Slack down (no worker): the staff reply lands before the triage card was ever posted
    bot = start_bot(worker=False)
    body = sp.message_event(channel=SHOP_FR, text=PAYOUT)
    root = body["event"]["ts"]
    bot.send(body)
    bot.wait_event(body["event_id"], "ticket")
    staff_reply = sp.message_event(
        channel=SHOP_FR, user=AGENT, text="Je regarde votre versement", thread_ts=root
    )
    bot.send(staff_reply)
    bot.wait_event(staff_reply["event_id"], "staff")
    bot.wait_ticket(lambda t: t.first_response_at is not None)

    bot.runtime.outbox.deliver_due()  # Slack is back

    [card] = _triage_cards(bot)
    assert "Première réponse donnée" not in _text(card)  # rendered when the ticket opened
    ticket = bot.wait_ticket(lambda t: t.triage_ts is not None)
    [update] = bot.slack.updates(channel=TRIAGE, ts=ticket.triage_ts)
    assert "Première réponse donnée" in _text(update)
