"""Block Kit for nudges and digests. Pure: a routing Nudge or Digest in, a message out.

Every value that came from outside (seller names, guideline text and titles, metric labels
from the operator's configuration) goes through `bot.safety`, so nothing renders as a ping.
The message's `text` is the whole message in plain words: the notification, the screen
reader's version, and what the nudges and digests tables keep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from bot.blocks import Message
from bot.messages import text as t
from bot.safety import escape_mrkdwn, plain, safe_link, truncate
from routing.calendars import humanize_deadline
from routing.digests import Digest
from routing.nudges import THANKS, Nudge


def number(value: float, language: str, *, decimals: int = 1) -> str:
    """1.83 → "1,8" in French, "1.8" in English; whole numbers without decimals."""
    rounded = round(value, decimals)
    shown = f"{rounded:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{rounded:.0f}"
    return shown.replace(".", ",") if language == "fr" else shown


def measure(value: float | None, unit: str | None, language: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{number(value, language, decimals=2 if abs(value) < 10 else 1)} %"
    if unit == "h":
        return f"{number(value, language)} h"
    if unit == "/5":
        return f"{number(value, language, decimals=2)}/5"
    return number(value, language, decimals=2)


def _signed(value: float, language: str) -> str:
    return ("+" if value > 0 else "") + number(value, language)


def _section(body: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(body)}}


def _context(body: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(body, 2000)}]}


def _header(title: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": plain(title, 150)}}


# ---- nudges -------------------------------------------------------------------------------------


def nudge_message(nudge: Nudge) -> Message:
    lang = nudge.language
    score = number(nudge.score, lang) if nudge.score is not None else "—"
    if nudge.kind == THANKS:
        title = t("nudge.title.thanks", lang)
        body = t("nudge.thanks", lang, score=score)
        return {
            "text": f"{title}\n{body}",
            "blocks": [_header(title), _section(body)],
        }
    title = t("nudge.title.act", lang)
    metric = escape_mrkdwn(nudge.metric_label or nudge.metric or "")
    lead = t(
        f"nudge.{nudge.level}",
        lang,
        metric=metric,
        value=measure(nudge.value, nudge.unit, lang),
        threshold=measure(nudge.threshold, nudge.unit, lang),
        alert=measure(nudge.alert, nudge.unit, lang),
        limit=measure(nudge.limit, nudge.unit, lang),
        projected=measure(nudge.projected_value, nudge.unit, lang),
    )
    delta = (
        t("nudge.delta", lang, delta=_signed(nudge.score_delta_week, lang))
        if nudge.score_delta_week is not None
        else ""
    )
    standing = [
        t("nudge.score", lang, score=score, delta=delta, segment=_segment(nudge.segment, lang))
    ]
    if nudge.weekly_drops_in_a_row >= 2:
        standing.append(t("nudge.drops", lang, count=nudge.weekly_drops_in_a_row))
    if nudge.projected_segment:
        projected_score = (
            t("nudge.projection_score", lang, score=number(nudge.projected_score, lang))
            if nudge.projected_score is not None
            else ""
        )
        standing.append(
            t(
                "nudge.projection",
                lang,
                segment=_segment(nudge.projected_segment, lang),
                score=projected_score,
            )
        )
    action = t("nudge.action", lang, action=t(f"action.{nudge.metric}", lang))
    parts = [lead, " ".join(standing), action]
    if nudge.also:
        parts.append(t("nudge.also", lang, metrics=", ".join(escape_mrkdwn(m) for m in nudge.also)))
    blocks = [_header(title), *(_section(p) for p in parts)]
    plain_parts = [title, *parts]
    if nudge.guideline is not None:
        g = nudge.guideline
        quote = "\n".join("> " + escape_mrkdwn(line) for line in g.quote.splitlines() if line)
        where = g.title + (f" › {g.section.split(' > ')[-1]}" if g.section else "")
        source = t("nudge.source", lang, source=safe_link(g.url, where))
        blocks += [_section(quote), _context(source)]
        plain_parts += [quote, t("nudge.source", lang, source=escape_mrkdwn(where))]
    return {"text": truncate("\n".join(plain_parts), 3000), "blocks": blocks}


def _segment(segment: str, language: str) -> str:
    key = f"segment.{segment}"
    try:
        return t(key, language)
    except KeyError:
        return escape_mrkdwn(segment)


# ---- digests ------------------------------------------------------------------------------------


def digest_message(
    digest: Digest, *, language: str, timezone: str = "Europe/Paris", now: datetime
) -> Message:
    lang: Literal["fr", "en"] = "fr" if language == "fr" else "en"

    def due(at: datetime | None) -> str:
        if at is None:
            return t("digest.no_deadline", lang)
        return humanize_deadline(at, now_utc=now, language=lang, tz=timezone)

    title = t("digest.title", lang, day=digest.day.isoformat())
    sections: list[str] = []
    if digest.tickets:
        lines = [t("digest.tickets", lang, count=len(digest.tickets))]
        lines += [
            "• "
            + t(
                "digest.ticket",
                lang,
                number=x.number,
                level=x.level,
                seller=escape_mrkdwn(x.seller_name),
                category=escape_mrkdwn(x.category),
                due=due(x.next_deadline),
            )
            for x in digest.tickets
        ]
        sections.append("\n".join(lines))
    if digest.clocks:
        lines = [t("digest.clocks", lang, count=len(digest.clocks))]
        lines += [
            "• "
            + t(
                "digest.clock",
                lang,
                number=c.number,
                target=_target(c.target, lang),
                state=t(f"clock.{c.state}", lang),
                due=due(c.deadline_at),
            )
            + f" · {escape_mrkdwn(c.seller_name)}"
            for c in digest.clocks
        ]
        sections.append("\n".join(lines))
    if digest.entering:
        lines = [t("digest.entering", lang, count=len(digest.entering))]
        lines += [
            "• "
            + t(
                "digest.entered",
                lang,
                seller=escape_mrkdwn(c.seller_name),
                before=_segment(c.before, lang) if c.before else "—",
                after=_segment(c.after, lang),
                score=number(c.score, lang) if c.score is not None else "—",
            )
            for c in digest.entering
        ]
        sections.append("\n".join(lines))
    for key, movers in (
        ("digest.movers_down", digest.movers_down),
        ("digest.movers_up", digest.movers_up),
    ):
        if movers:
            lines = [t(key, lang)]
            lines += [
                "• "
                + t(
                    "digest.mover",
                    lang,
                    seller=escape_mrkdwn(m.seller_name),
                    delta=_signed(m.delta, lang),
                    score=number(m.score, lang) if m.score is not None else "—",
                )
                for m in movers
            ]
            sections.append("\n".join(lines))
    if not sections:
        sections.append(t("digest.nothing", lang))
    blocks = [_header(title), *(_section(s) for s in sections)]
    return {"text": truncate("\n\n".join([title, *sections]), 3000), "blocks": blocks}


def _target(target: str, language: str) -> str:
    from bot import messages

    try:
        return messages.text(f"sla.target.{target}", language)
    except KeyError:
        return escape_mrkdwn(target)


def chart_comment(language: str) -> str:
    return t("digest.chart_comment", language)
