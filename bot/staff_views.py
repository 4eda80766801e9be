"""What staff see outside the triage channel: the App Home and `/comptoir` answers. Pure builders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot import messages
from bot.blocks import Message
from bot.safety import escape_mrkdwn, truncate
from bot.ticket_blocks import TicketFacts, mention, triage_card

MAX_HOME_LINES = 25  # a Home view holds 100 blocks; a queue longer than this is for the CLI
SUMMARY_CHARS = 140


@dataclass(frozen=True)
class QueueLine:
    number: int
    level: int
    seller_name: str
    status: str
    owner_id: str | None
    summary: str
    due: str | None  # nearest deadline in words; None when no clock runs


def _status(line: QueueLine, lang: str) -> str:
    key = f"triage.status.{line.status}"
    if key not in messages.MESSAGES:
        return escape_mrkdwn(line.status)
    return messages.text(key, lang, owner=mention(line.owner_id) if line.owner_id else "?")


def queue_text(lines: Sequence[QueueLine], lang: str) -> str:
    if not lines:
        return messages.text("home.empty", lang)
    return "\n".join(
        messages.text(
            "queue.line",
            lang,
            number=line.number,
            level=line.level,
            seller=escape_mrkdwn(line.seller_name),
            status=_status(line, lang),
            due=line.due or messages.text("queue.no_deadline", lang),
            summary=escape_mrkdwn(truncate(line.summary.replace("\n", " "), SUMMARY_CHARS)),
        )
        for line in lines
    )


def _queue_blocks(title: str, lines: Sequence[QueueLine], lang: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}}
    ]
    if not lines:
        blocks.append(_section(messages.text("home.empty", lang)))
    for line in lines[:MAX_HOME_LINES]:
        blocks.append(_section(queue_text([line], lang)))
    return blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text)}}


def home_view(
    *, mine: Sequence[QueueLine], team: Sequence[QueueLine], staff_language: str
) -> dict[str, Any]:
    """The Home tab of a staff member: their queue, then the team's, nearest deadline first."""
    lang = staff_language
    blocks = _queue_blocks(messages.text("home.mine", lang), mine, lang)
    blocks.append({"type": "divider"})
    blocks += _queue_blocks(messages.text("home.team", lang), team, lang)
    return {"type": "home", "blocks": blocks}


def not_staff_home(language: str) -> dict[str, Any]:
    return {"type": "home", "blocks": [_section(messages.text("home.not_staff", language))]}


def command_reply(text: str, blocks: list[dict[str, Any]] | None = None) -> Message:
    """An ephemeral answer to a slash command (Slack shows it to the caller alone)."""
    return {
        "response_type": "ephemeral",
        "text": truncate(text, 3000),
        "blocks": blocks or [_section(text)],
    }


def queue_reply(lines: Sequence[QueueLine], lang: str) -> Message:
    return command_reply(queue_text(lines[:MAX_HOME_LINES], lang))


def ticket_reply(facts: TicketFacts, lang: str) -> Message:
    card = triage_card(facts, staff_language=lang)
    # the same card as in triage, without its buttons: acting happens on the card itself
    blocks = [b for b in card["blocks"] if b["type"] != "actions"]
    return command_reply(card["text"], blocks)


def stats_reply(figures: Mapping[str, Any], lang: str) -> Message:
    """Today's figures from routing.reports.report, one line each; any figure this view does
    not know yet is still shown, compactly, rather than dropped."""
    lines = [f"*{messages.text('command.stats_title', lang)}*"]
    known = {
        "since",
        "now",
        "tickets",
        "first_response",
        "deflection",
        "relevel",
        "sla",
        "open_by_age",
    }
    tickets = figures.get("tickets") or {}
    lines.append(
        messages.text(
            "stats.tickets",
            lang,
            opened=tickets.get("opened", 0),
            resolved=tickets.get("resolved", 0),
        )
    )
    first = figures.get("first_response") or {}
    lines.append(
        messages.text(
            "stats.first_response",
            lang,
            median=_duration(first.get("median_seconds")),
            count=first.get("count", 0),
        )
    )
    deflection = figures.get("deflection") or {}
    lines.append(
        messages.text(
            "stats.deflection",
            lang,
            rate=_percent(deflection.get("rate")),
            deflected=deflection.get("deflected", 0),
            questions=deflection.get("questions", 0),
        )
    )
    lines.append(
        messages.text(
            "stats.relevel", lang, rate=_percent((figures.get("relevel") or {}).get("rate"))
        )
    )
    for cell in figures.get("sla") or []:
        target = f"sla.target.{cell.get('target')}"
        lines.append(
            messages.text(
                "stats.sla",
                lang,
                level=cell.get("level"),
                target=messages.text(target, lang)
                if target in messages.MESSAGES
                else cell.get("target"),
                met=cell.get("met"),
                total=cell.get("total"),
            )
        )
    if figures.get("open_by_age"):
        lines.append(
            messages.text(
                "stats.open_by_age", lang, ages=escape_mrkdwn(_compact(figures["open_by_age"]))
            )
        )
    for key, value in figures.items():
        if key not in known:
            lines.append(f"• {escape_mrkdwn(str(key))}: {escape_mrkdwn(_compact(value))}")
    return command_reply("\n".join(lines))


def _percent(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f} %"


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    minutes = int(float(seconds) // 60)
    return f"{minutes // 60} h {minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"


def _compact(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_compact(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(_compact(v) for v in value) or "—"
    return "—" if value is None else str(value)
