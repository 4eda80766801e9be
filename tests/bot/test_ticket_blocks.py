"""The pure help-desk pieces: card builders never ping, payload parsing refuses bad input."""

from __future__ import annotations

import json

import pytest

from bot import messages, staff_views
from bot import ticket_blocks as tb
from bot.listeners.parsing import Command, parse_command, parse_ticket_action

HOSTILE = "<!channel> <!here> <!everyone> <!subteam^S0ALL|@all> <@U0CEO0001> & co"


def _facts(**kw: object) -> tb.TicketFacts:
    values: dict = {
        "id": 7,
        "number": 1042,
        "level": 2,
        "status": "open",
        "category": "payouts",
        "seller_name": "Maison <!here> Lune",
        "summary": HOSTILE,
        "language": "fr",
        "reasons": ("Level 2: payout <!channel>",),
        "first_response_due": "d'ici lundi 10:00",
    }
    values.update(kw)
    return tb.TicketFacts(**values)  # type: ignore[arg-type]


def _no_ping(message: object) -> str:
    text = json.dumps(message, ensure_ascii=False)
    assert "<!" not in text
    return text


def test_every_card_escapes_seller_text() -> None:
    facts = _facts()
    for message in (
        tb.seller_card(facts, due="d'ici lundi 10:00"),
        tb.triage_card(facts, staff_language="fr"),
        tb.triage_card(_facts(status="claimed", owner_id="U0AGENT0001"), staff_language="en"),
        tb.level3_dm(facts, staff_language="fr"),
        tb.level3_post(facts, leads=["U0LEAD00001"], account_manager_id=None, staff_language="fr"),
        tb.passage_message(HOSTILE, ui_language="en"),
        tb.satisfaction_question(facts),
        staff_views.ticket_reply(facts, "fr"),
    ):
        text = _no_ping(message)
        assert "<@U0CEO0001>" not in text  # a mention typed by a seller stays text


def test_staff_mentions_come_only_from_ids_we_hold() -> None:
    post = tb.level3_post(
        _facts(), leads=["U0LEAD00001"], account_manager_id="U0ACCTMGR1", staff_language="en"
    )
    assert "<@U0LEAD00001>" in post["text"] and "<@U0ACCTMGR1>" in post["text"]
    assert tb.mention("<!channel>") == "&lt;!channel&gt;"  # not an id: shown, never a ping


def test_seller_card_says_number_level_and_when() -> None:
    card = tb.seller_card(_facts(language="en"), due="by Monday 10:00")
    assert card["text"] == (
        "🎫 Ticket *#1042* opened · level 2.\n"
        "A member of the team will answer by Monday 10:00, here, in this thread."
    )
    assert card["metadata"] == tb.card_metadata(7, tb.SELLER_CARD)


def test_triage_card_controls_follow_the_status() -> None:
    def controls(status: str) -> list[str]:
        card = tb.triage_card(_facts(status=status, owner_id="U0AGENT0001"), staff_language="fr")
        return [
            e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
        ]

    assert controls("open") == [
        tb.ACTION_CLAIM,
        tb.ACTION_RELEVEL,
        tb.ACTION_WAIT,
        tb.ACTION_RESOLVE,
    ]
    assert controls("claimed") == [tb.ACTION_RELEVEL, tb.ACTION_WAIT, tb.ACTION_RESOLVE]
    assert controls("waiting_on_seller") == [tb.ACTION_CLAIM, tb.ACTION_RELEVEL, tb.ACTION_RESOLVE]
    assert controls("resolved") == []


def test_every_message_has_both_languages() -> None:
    for key, by_language in messages.MESSAGES.items():
        assert set(by_language) == {"fr", "en"}, key


def _select(value: object, block_id: str = "ticket:7") -> dict:
    return {
        "user": {"id": "U0AGENT0001"},
        "container": {"channel_id": "C0TRIAGE01", "message_ts": "1.1"},
        "actions": [
            {
                "type": "static_select",
                "action_id": tb.ACTION_RELEVEL,
                "block_id": block_id,
                "selected_option": {"value": value},
                "action_ts": "2.2",
            }
        ],
    }


def test_parse_ticket_action_refuses_forged_or_broken_payloads() -> None:
    ok = parse_ticket_action(_select("3"))
    assert ok is not None and (ok.ticket_id, ok.level, ok.user_id) == (7, 3, "U0AGENT0001")
    assert parse_ticket_action(_select("4")) is None  # no such level
    assert parse_ticket_action(_select(None)) is None
    assert parse_ticket_action(_select("2", block_id="ticket:x")) is None
    no_user = _select("2")
    del no_user["user"]
    assert parse_ticket_action(no_user) is None
    assert parse_ticket_action({}) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command("queue")),
        ("queue", Command("queue")),
        ("  STATS ", Command("stats")),
        ("ticket 1042", Command("ticket", 1042)),
        ("ticket #1042", Command("ticket", 1042)),
        ("ticket abc", Command("help")),
        ("ticket", Command("help")),
        ("queue now", Command("help")),
        ("delete everything", Command("help")),
    ],
)
def test_parse_command(text: str, expected: Command) -> None:
    assert parse_command(text) == expected
