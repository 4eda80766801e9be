"""Slack payloads to plain values. Pure functions: which deliveries are a seller's message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from routing.conversations import IncomingMessage

# Subtypes that are a person writing; every other one (edits, deletions, joins, topic
# changes, bot posts, …) is the channel's housekeeping, not a question.
READABLE_SUBTYPES = {None, "file_share", "thread_broadcast"}
CHANNEL_TYPES = {None, "channel", "group"}  # app_mention carries no channel_type
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
_FILE_FIELDS = ("id", "name", "title", "mimetype", "filetype", "permalink")


@dataclass(frozen=True)
class Ignored:
    event_id: str
    event_type: str
    channel_id: str | None
    reason: str


def parse_message(body: dict[str, Any]) -> IncomingMessage | Ignored:
    event = body.get("event") or {}
    event_id = str(body.get("event_id") or "")
    event_type = str(event.get("type") or "message")
    channel = event.get("channel")

    def ignored(reason: str) -> Ignored:
        return Ignored(event_id, event_type, channel, reason)

    subtype = event.get("subtype")
    if subtype not in READABLE_SUBTYPES:
        return ignored(f"subtype {subtype}")
    if event.get("bot_id") or event.get("bot_profile"):
        return ignored("posted by a bot")
    if not event.get("user"):
        return ignored("no author")
    if event.get("channel_type") not in CHANNEL_TYPES:
        return ignored(f"{event.get('channel_type')} is not a shared channel")
    if not channel or not event.get("ts"):
        return ignored("no channel or ts")
    files = [{k: f[k] for k in _FILE_FIELDS if k in f} for f in event.get("files") or []]
    return IncomingMessage(
        event_id=event_id,
        event_type=event_type,
        channel_id=str(channel),
        user_id=str(event["user"]),
        # the bot's own mention is how the seller addressed it, not part of the question
        text=_MENTION.sub("", str(event.get("text") or "")).strip(),
        ts=str(event["ts"]),
        thread_ts=str(event["thread_ts"]) if event.get("thread_ts") else None,
        files=files,
        payload=body,
    )


@dataclass(frozen=True)
class Click:
    kind: str
    question_id: int
    user_id: str | None
    channel_id: str | None
    message_ts: str | None


def parse_click(body: dict[str, Any], kind: str) -> Click | None:
    """A feedback button click; None when the value is not a question id (a forged button)."""
    action = (body.get("actions") or [{}])[0]
    try:
        question_id = int(action.get("value"))
    except (TypeError, ValueError):
        return None
    container = body.get("container") or {}
    return Click(
        kind=kind,
        question_id=question_id,
        user_id=(body.get("user") or {}).get("id"),
        channel_id=container.get("channel_id") or (body.get("channel") or {}).get("id"),
        message_ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
    )
