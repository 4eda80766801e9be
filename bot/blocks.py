"""Block Kit builders: plain values in, a message dict (`text` + `blocks`) out. No Slack calls.

Every piece of seller or guideline text goes through `bot.safety` here, so a builder's output
can be checked without Slack and nothing upstream has to remember to escape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot import messages
from bot.safety import escape_mrkdwn, plain, safe_link, truncate

ACTION_RESOLVED = "answer_resolved"
ACTION_HUMAN = "answer_human"
FEEDBACK_KINDS = {ACTION_RESOLVED: "resolved", ACTION_HUMAN: "human"}
MAX_SOURCES = 5

Message = dict[str, Any]


@dataclass(frozen=True)
class AnswerCard:
    """What an answer message shows; built from a fresh Answer or from a stored Question."""

    question_id: int
    answered: bool
    text: str
    language: str  # the question's language: the answer text is in it
    ui_language: str  # the seller's directory language: buttons and headings
    citations: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(truncate(text))}


def source_line(number: int, citation: Mapping[str, Any]) -> str:
    title = str(citation.get("title") or citation.get("source") or "?")
    line = f"{number}. {safe_link(citation.get('url'), title)}"
    section = str(citation.get("section") or "")
    if section and section != title:
        line += f" · _{escape_mrkdwn(section)}_"
    return line


def _body(card: AnswerCard) -> str:
    if card.answered:
        return escape_mrkdwn(card.text)
    return messages.text("answer.abstain", card.language)


def answer_message(card: AnswerCard, *, with_buttons: bool = True) -> Message:
    """The answer in the seller's thread: text, numbered sources, then Resolved / I need a human."""
    body = _body(card)
    blocks: list[dict[str, Any]] = [_section(body)]
    citations = list(card.citations)[:MAX_SOURCES] if card.answered else []
    if citations:
        heading = f"*{messages.text('answer.sources', card.ui_language)}*"
        lines = [source_line(i, c) for i, c in enumerate(citations, start=1)]
        blocks.append(
            {"type": "context", "elements": [_mrkdwn(truncate("\n".join([heading, *lines]), 2000))]}
        )
    if card.answered and with_buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"feedback:{card.question_id}",
                "elements": [
                    _button(ACTION_RESOLVED, "button.resolved", card, style="primary"),
                    _button(ACTION_HUMAN, "button.human", card),
                ],
            }
        )
    # `text` is the notification and screen-reader fallback; it is mrkdwn too, so escaped
    return {"text": truncate(body, 3000), "blocks": blocks}


def _button(
    action_id: str, key: str, card: AnswerCard, *, style: str | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {
            "type": "plain_text",
            "text": plain(messages.text(key, card.ui_language), 75),
            "emoji": True,
        },
        "value": str(card.question_id),
    }
    if style:
        button["style"] = style
    return button


def answered_with_feedback(card: AnswerCard, *, kind: str) -> Message:
    """The same answer once clicked: buttons gone, the choice shown, so a second click can't happen."""
    message = answer_message(card, with_buttons=False)
    message["blocks"].append(
        {
            "type": "context",
            "elements": [_mrkdwn(messages.text(f"feedback.{kind}", card.ui_language))],
        }
    )
    return message


def handoff_message(ui_language: str) -> Message:
    """Posted in the thread when the seller asks for a human."""
    body = messages.text("handoff.human", ui_language)
    return {"text": body, "blocks": [_section(body)]}


def error_message(language: str) -> Message:
    body = messages.text("error.answer", language)
    return {"text": body, "blocks": [_section(body)]}
