"""Slack payloads to plain values. Pure functions (they only log what they skip): which
deliveries are a seller's message, which clicks carry an id the database can hold."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any

from routing.conversations import IncomingMessage

# Subtypes that are a person writing; every other one (edits, deletions, joins, topic
# changes, bot posts, …) is the channel's housekeeping, not a question.
READABLE_SUBTYPES = {None, "file_share", "thread_broadcast"}
CHANNEL_TYPES = {None, "channel", "group"}  # app_mention carries no channel_type
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
_FILE_FIELDS = ("id", "name", "title", "mimetype", "filetype", "permalink")
# How much of a seller's message the classifier and the answerer read (COMPTOIR_MAX_MESSAGE_CHARS):
# their cost grows with the text (the embedding model reads it in 512-token windows), and a
# support question is said in its first lines; the whole text is stored all the same.
MAX_MESSAGE_CHARS = 4000
# Ids in button values and commands end up compared with INTEGER columns: PostgreSQL's holds
# 32 bits (a larger value is a DataError, SQLite raises OverflowError past 64 bits).
MAX_ID = 2**31 - 1
_ID = re.compile(r"[0-9]{1,10}")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ignored:
    event_id: str
    event_type: str
    channel_id: str | None
    reason: str


def parse_message(body: dict[str, Any]) -> IncomingMessage | Ignored:
    event = body.get("event") or {}
    event_id = str(body.get("event_id") or "")
    if not isinstance(event, dict):  # bot.http_guard refuses these at the door
        return Ignored(event_id, "message", None, "event is not an object")
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
    files = _files(event.get("files"), event_id)
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


def _files(raw: object, event_id: str) -> list[dict[str, str]]:
    """The attachments' descriptions; an entry that is not a file object (no string id) is
    skipped with a log line rather than failing the whole message."""
    if not raw:
        return []
    if not isinstance(raw, list):
        logger.warning("event %s: files is a %s, not a list; ignored", event_id, type(raw).__name__)
        return []
    files = [
        {k: f[k] for k in _FILE_FIELDS if isinstance(f.get(k), str)}
        for f in raw
        if isinstance(f, dict) and isinstance(f.get("id"), str)
    ]
    if len(files) < len(raw):
        logger.warning(
            "event %s: %d of %d files entries are not file objects; skipped",
            event_id,
            len(raw) - len(files),
            len(raw),
        )
    return files


def cut_text(text: str, limit: int) -> str:
    """The first `limit` characters (at a word boundary when one is near the end)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ", max(0, limit - 100))
    return (head[:space] if space > 0 else head).rstrip()


def read_part(message: IncomingMessage, limit: int) -> tuple[IncomingMessage, bool]:
    """The message as the classifier and the answerer see it: its question text cut to
    `limit` characters; True when something was cut (the seller is told)."""
    question = message.question_text
    if len(question) <= limit:
        return message, False
    # question_text is the text when there is one, else the files' titles: either way the
    # cut text stands in for it, and the stored message keeps everything
    return replace(message, text=cut_text(question, limit)), True


def parse_id(raw: object) -> int | None:
    """A row id from a button value or a command: ASCII digits the database's INTEGER holds;
    None for anything else (a sign, spaces, "1_0", "١٢", 23 digits)."""
    if not isinstance(raw, str) or not _ID.fullmatch(raw):
        return None
    number = int(raw)
    return number if number <= MAX_ID else None


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
    question_id = parse_id(action.get("value"))
    if question_id is None:
        return None
    container = body.get("container") or {}
    return Click(
        kind=kind,
        question_id=question_id,
        user_id=(body.get("user") or {}).get("id"),
        channel_id=container.get("channel_id") or (body.get("channel") or {}).get("id"),
        message_ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
    )


@dataclass(frozen=True)
class TicketAction:
    """A click on a ticket's buttons (triage card or the seller's satisfaction question)."""

    action_id: str
    ticket_id: int
    user_id: str
    channel_id: str
    message_ts: str | None
    action_ts: str
    level: int | None = None  # the chosen option of "Change level"

    @property
    def delivery_id(self) -> str:
        """One click, however many times it is delivered (a double submit carries the same ts)."""
        return f"act:{self.user_id}:{self.action_id}:{self.action_ts}"[:64]


def parse_ticket_action(body: dict[str, Any]) -> TicketAction | None:
    """None for a forged or malformed payload: no ticket id, no user, no channel, bad level."""
    action = (body.get("actions") or [{}])[0]
    action_id = str(action.get("action_id") or "")
    level: int | None = None
    if action.get("type") == "static_select":
        raw_id = str(action.get("block_id") or "").removeprefix("ticket:")
        level = parse_id((action.get("selected_option") or {}).get("value"))
        if level not in (1, 2, 3):
            return None
    else:
        raw_id = str(action.get("value") or "")
    ticket_id = parse_id(raw_id)
    if ticket_id is None:
        return None
    container = body.get("container") or {}
    user_id = (body.get("user") or {}).get("id")
    channel_id = container.get("channel_id") or (body.get("channel") or {}).get("id")
    if not user_id or not channel_id:
        return None
    return TicketAction(
        action_id=action_id,
        ticket_id=ticket_id,
        user_id=str(user_id),
        channel_id=str(channel_id),
        message_ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
        action_ts=str(action.get("action_ts") or body.get("trigger_id") or ""),
        level=level,
    )


@dataclass(frozen=True)
class Command:
    """`/comptoir <name> [arg]`; name "help" for anything not understood."""

    name: str
    number: int | None = None


def parse_command(text: str) -> Command:
    words = text.strip().lower().split()
    if not words:
        return Command("queue")
    name, rest = words[0], words[1:]
    if name in {"queue", "file"} and not rest:
        return Command("queue")
    if name in {"stats", "statistiques"} and not rest:
        return Command("stats")
    if name == "ticket" and len(rest) == 1:
        number = parse_id(rest[0].lstrip("#"))
        return Command("ticket", number) if number is not None else Command("help")
    return Command("help")
