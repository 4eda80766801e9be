"""Block Kit builders for tickets: the seller's card, the triage card and its buttons, the
satisfaction question, escalation posts and SLA alerts. Pure: plain values in, messages out.

Seller text (the ticket summary, the seller's name) goes through `bot.safety`; staff mentions
(`<@U…>`) are built here from user ids we hold, never from text anyone typed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot import messages
from bot.blocks import Message
from bot.safety import escape_mrkdwn, plain, truncate

ACTION_CLAIM = "ticket_claim"
ACTION_RELEVEL = "ticket_relevel"
ACTION_WAIT = "ticket_wait"
ACTION_RESOLVE = "ticket_resolve"
ACTION_SOLVED_YES = "ticket_solved_yes"
ACTION_SOLVED_NO = "ticket_solved_no"
TRIAGE_ACTIONS = (ACTION_CLAIM, ACTION_RELEVEL, ACTION_WAIT, ACTION_RESOLVE)
SATISFACTION_ACTIONS = {ACTION_SOLVED_YES: True, ACTION_SOLVED_NO: False}
LEVELS = (1, 2, 3)

# Slack message metadata on the cards we post: when the outbox learns the card's ts, it knows
# which ticket (and which card) it belongs to without any side table.
CARD_EVENT = "comptoir_ticket_card"
TRIAGE_CARD = "triage"
SELLER_CARD = "seller"

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")


def mention(user_id: str) -> str:
    """`<@U…>` for a Slack user id we hold; anything else is shown as escaped text."""
    return f"<@{user_id}>" if _USER_ID.match(user_id) else escape_mrkdwn(user_id)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 2000)}]}


def _button(action_id: str, label: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": plain(label, 75), "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def card_metadata(ticket_id: int, card: str) -> dict[str, Any]:
    return {"event_type": CARD_EVENT, "event_payload": {"ticket_id": ticket_id, "card": card}}


@dataclass(frozen=True)
class TicketFacts:
    """What the cards show of a ticket, as plain values (the listener reads them from the DB)."""

    id: int
    number: int
    level: int
    status: str
    category: str
    seller_name: str
    summary: str
    language: str  # the seller's
    owner_id: str | None = None
    reasons: Sequence[str] = field(default_factory=tuple)
    first_response_due: str | None = None  # in words, e.g. "d'ici lundi 10:00"
    first_response_given: bool = False


# --- the seller's thread ----------------------------------------------------------------------


def seller_card(facts: TicketFacts, *, due: str) -> Message:
    """Number, level and, in words, when a human answers; in the seller's language."""
    body = messages.text(
        "ticket.card", facts.language, number=facts.number, level=facts.level, due=due
    )
    return {
        "text": body,
        "blocks": [_section(body)],
        "metadata": card_metadata(facts.id, SELLER_CARD),
    }


def passage_message(text: str, *, ui_language: str, sources: Sequence[str] = ()) -> Message:
    """The bot's guideline passage under a ticket card; no buttons, a human is already coming."""
    heading = messages.text("ticket.passage", ui_language)
    body = f"{heading}\n{escape_mrkdwn(text)}"
    blocks = [_section(body)]
    if sources:
        blocks.append(_context("\n".join(sources)))
    return {"text": truncate(body, 3000), "blocks": blocks}


def satisfaction_question(facts: TicketFacts) -> Message:
    body = messages.text("ticket.ask_solved", facts.language, number=facts.number)
    value = str(facts.id)
    return {
        "text": body,
        "blocks": [
            _section(body),
            {
                "type": "actions",
                "block_id": f"satisfaction:{facts.id}",
                "elements": [
                    _button(
                        ACTION_SOLVED_YES,
                        messages.text("button.solved_yes", facts.language),
                        value,
                        style="primary",
                    ),
                    _button(
                        ACTION_SOLVED_NO, messages.text("button.solved_no", facts.language), value
                    ),
                ],
            },
        ],
    }


def satisfaction_answered(facts: TicketFacts, *, solved: bool) -> Message:
    """The question once answered: buttons gone, so the seller cannot answer twice."""
    key = "ticket.solved_yes" if solved else "ticket.solved_no"
    body = messages.text(key, facts.language, number=facts.number)
    return {"text": body, "blocks": [_section(body)]}


# --- the triage channel -----------------------------------------------------------------------


def _status_line(facts: TicketFacts, lang: str) -> str:
    key = f"triage.status.{facts.status}"
    if facts.status == "claimed" and facts.owner_id:
        return messages.text(key, lang, owner=mention(facts.owner_id))
    if key in messages.MESSAGES:
        return messages.text(key, lang, owner="")
    return escape_mrkdwn(facts.status)


def triage_card(facts: TicketFacts, *, staff_language: str) -> Message:
    """One card per ticket; re-rendered and `chat.update`d in place as the ticket moves."""
    lang = staff_language
    title = messages.text(
        "triage.title",
        lang,
        number=facts.number,
        level=facts.level,
        seller=escape_mrkdwn(facts.seller_name),
    )
    status = _status_line(facts, lang)
    summary = "> " + escape_mrkdwn(facts.summary).replace("\n", "\n> ")
    body = f"*{title}*\n{status}\n{summary}"
    details = [escape_mrkdwn(r) for r in facts.reasons]
    details.append(escape_mrkdwn(facts.category))
    if facts.first_response_given:
        details.append(messages.text("triage.first_response_done", lang))
    elif facts.first_response_due and facts.status != "resolved":
        details.append(
            messages.text("triage.first_response_due", lang, due=facts.first_response_due)
        )
    blocks: list[dict[str, Any]] = [_section(body), _context(" · ".join(details))]
    if facts.status != "resolved":
        blocks.append(
            {
                "type": "actions",
                "block_id": f"ticket:{facts.id}",
                "elements": _triage_buttons(facts, lang),
            }
        )
    return {
        "text": truncate(f"{title} · {status}", 3000),
        "blocks": blocks,
        "metadata": card_metadata(facts.id, TRIAGE_CARD),
    }


def _level_option(level: int, lang: str) -> dict[str, Any]:
    return {
        "text": {
            "type": "plain_text",
            "text": messages.text("select.level_option", lang, level=level),
        },
        "value": str(level),
    }


def _triage_buttons(facts: TicketFacts, lang: str) -> list[dict[str, Any]]:
    value = str(facts.id)
    elements: list[dict[str, Any]] = []
    if facts.status != "claimed":
        elements.append(
            _button(ACTION_CLAIM, messages.text("button.claim", lang), value, style="primary")
        )
    elements.append(
        {
            "type": "static_select",
            "action_id": ACTION_RELEVEL,
            "placeholder": {"type": "plain_text", "text": messages.text("select.level", lang)},
            "options": [_level_option(n, lang) for n in LEVELS],
            "initial_option": _level_option(facts.level, lang),
        }
    )
    if facts.status != "waiting_on_seller":
        elements.append(_button(ACTION_WAIT, messages.text("button.wait", lang), value))
    elements.append(_button(ACTION_RESOLVE, messages.text("button.resolve", lang), value))
    return elements


def level3_post(
    facts: TicketFacts,
    *,
    leads: Sequence[str],
    account_manager_id: str | None,
    staff_language: str,
) -> Message:
    """The triage post that tags the lead(s) for a Level 3; says so when no account manager is on file."""
    lang = staff_language
    tagged = " ".join(mention(u) for u in leads) or messages.text("triage.no_lead", lang)
    am = (
        messages.text("triage.level3_am", lang, am=mention(account_manager_id))
        if account_manager_id
        else messages.text("triage.level3_gap", lang)
    )
    body = messages.text(
        "triage.level3",
        lang,
        number=facts.number,
        seller=escape_mrkdwn(facts.seller_name),
        leads=tagged,
        am=am,
    )
    return {"text": body, "blocks": [_section(body)]}


def level3_dm(facts: TicketFacts, *, staff_language: str) -> Message:
    body = messages.text(
        "dm.level3",
        staff_language,
        number=facts.number,
        seller=escape_mrkdwn(facts.seller_name),
        category=escape_mrkdwn(facts.category),
        summary=escape_mrkdwn(truncate(facts.summary, 500)),
    )
    return {"text": body, "blocks": [_section(body)]}


def sla_alert(
    *, number: int, level: int, kind: str, target: str, due: str, staff_language: str
) -> Message:
    """A warning (75 % used) or a breach, for the card's thread and the escalation DMs."""
    lang = staff_language
    target_words = (
        messages.text(f"sla.target.{target}", lang)
        if f"sla.target.{target}" in messages.MESSAGES
        else escape_mrkdwn(target)
    )
    key = "sla.breach" if kind == "breach" else "sla.warning"
    body = messages.text(key, lang, number=number, level=level, target=target_words, due=due)
    return {"text": body, "blocks": [_section(body)]}


def ephemeral(text_key: str, language: str, **values: object) -> Message:
    body = messages.text(text_key, language, **values)
    return {"text": body, "blocks": [_section(body)]}
