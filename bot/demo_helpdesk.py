"""The help-desk half of `comptoir demo`: problems become tickets, staff triage, SLA clocks fire.

The clock is advanced by giving the SLA sweep a later `now`, exactly as the scheduler would
call it an hour from now; nothing waits.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

from bot import slack_payloads
from bot.listeners.deps import Deps
from bot.sla_job import run_sla_sweep
from bot.slack_standin import Call, SlackStandin
from bot.ticket_blocks import ACTION_CLAIM
from routing.models import Seller
from routing.tickets import ticket_for_thread

if TYPE_CHECKING:
    from bot.demo import Demo

PROBLEMS = (
    (
        "A Level 2 problem: a catalogue import that fails",
        "C0SELLER03",
        "U0SELLERFR3",
        "Mon import catalogue plante depuis ce matin : « colonne EAN manquante » sur 120 "
        "produits, alors que la colonne est bien dans le fichier. Vous pouvez regarder ?",
    ),
    (
        "A Level 3 problem, written calmly: a suspended account",
        "C0SELLER06",
        "U0SELLEREN6",
        "Hello, our account was suspended this morning and all our listings are offline. "
        "We have had no explanation yet.",
    ),
)


def play_helpdesk(demo: Demo, slack: SlackStandin, url: str, secret: str, deps: Deps) -> None:
    from bot.demo import TRIAGE

    tickets: list[tuple[str, str, int, int]] = []  # channel, thread, ticket id, number
    for number, (title, channel, user, text) in enumerate(PROBLEMS, 6):
        payload = slack_payloads.message_event(channel=channel, user=user, text=text)
        ts = payload["event"]["ts"]
        demo.say(f"\n{number}. {title}  [#{channel}]")
        demo.say(f"   seller   {text}")
        slack_payloads.deliver(url, payload, secret)
        demo.show("comptoir", demo.wait(slack, channel, ts))
        with deps.session_factory() as session:
            ticket = ticket_for_thread(session, channel_id=channel, thread_ts=ts)
            assert ticket is not None, "the problem opened no ticket"
            tickets.append((channel, ts, ticket.id, ticket.number))
            seller = session.get(Seller, ticket.seller_id)
            account_manager = seller.account_manager_id if seller and ticket.level == 3 else None
        if account_manager:
            demo.show("DM to AM", demo.wait(slack, account_manager))

    demo.say(f"\n   The triage channel #{TRIAGE} now reads:")
    for post in slack.posts(channel=TRIAGE):
        if not post.get("thread_ts"):
            demo.show("triage", post)

    _, _, ticket_id, number = tickets[0]
    demo.say(f"\n8. Hugo (help-desk agent) clicks Claim on ticket #{number}")
    with deps.session_factory() as session:
        ticket = ticket_for_thread(session, channel_id=tickets[0][0], thread_ts=tickets[0][1])
        assert ticket is not None and ticket.triage_ts is not None
        card_ts = ticket.triage_ts
    before = len(slack.updates(channel=TRIAGE, ts=card_ts))
    click = slack_payloads.block_actions(
        action_id=ACTION_CLAIM,
        value=str(ticket_id),
        channel=TRIAGE,
        message_ts=card_ts,
        user="U0AGENT001",
    )
    slack_payloads.deliver(url, click, secret)
    update = slack.wait_for(lambda: slack.updates(channel=TRIAGE, ts=card_ts)[before:], timeout=30)
    demo.show("triage", update[-1], "(the card, updated in place)")

    channel, ts, _, number = tickets[1]
    with deps.session_factory() as session:
        ticket = ticket_for_thread(session, channel_id=channel, thread_ts=ts)
        assert ticket is not None
        opened = ticket.created_at
    demo.say(f"\n9. Nobody answers ticket #{number} (Level 3: first response due within 1 h)")
    before = len(slack.posts())
    fired = 0
    for minutes in (50, 65):
        alerts = run_sla_sweep(deps, now=opened + timedelta(minutes=minutes))
        fired += len(alerts)
        for alert in alerts:
            chain = ", ".join(alert.escalate_to) or "the triage card's thread"
            demo.say(
                f"   +{minutes} min  sweep fires the {alert.kind} on #{alert.number}"
                f" {alert.target} (level {alert.level}) -> {chain}"
            )
    for post in _settled(slack, before, at_least=fired):
        where = "triage" if post.get("channel") == TRIAGE else f"DM {post.get('channel')}"
        demo.show(where, post)


def _settled(slack: SlackStandin, before: int, *, at_least: int) -> list[Call]:
    """The posts made since `before`, once at least `at_least` arrived and no more come."""
    slack.wait_for(lambda: len(slack.posts()) >= before + at_least, timeout=30)
    seen = -1
    while seen != len(slack.posts()):
        seen = len(slack.posts())
        time.sleep(0.5)
    return slack.posts()[before:]
