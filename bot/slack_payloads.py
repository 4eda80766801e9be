"""Signed, realistic Slack requests: what Slack's Events API and interactivity POST to us.

Shared by the tests, `comptoir demo` and the benchmarks, so each exercises the real endpoint
(signature check included) exactly as Slack would:

    body = message_event(channel="C0SHOP1", user="U0SELLER1", text="Quels sont les frais ?")
    deliver("http://127.0.0.1:3000", body, secret)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx

TEAM_ID = "T0COMPTOIR"
ENTERPRISE_ID = None
API_APP_ID = "A0COMPTOIR"
BOT_USER_ID = "U0COMPTOIRBOT"
VERIFICATION_TOKEN = "legacy-verification-token-unused"  # Slack still sends it; Bolt ignores it

_ts_counter = itertools.count(1)


def new_ts() -> str:
    """A Slack message timestamp ("seconds.micro"), unique within this process."""
    return f"{int(time.time())}.{next(_ts_counter) % 1_000_000:06d}"


def new_event_id() -> str:
    return "Ev" + uuid.uuid4().hex[:10].upper()


def signature(body: str, secret: str, timestamp: int) -> str:
    """Slack's v0 signature: HMAC-SHA256 of "v0:{timestamp}:{body}" with the signing secret."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: str, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, secret, ts),
    }


def envelope(
    event: dict[str, Any], *, event_id: str | None = None, team_id: str = TEAM_ID
) -> dict[str, Any]:
    """An Events API `event_callback` around one event, as Slack sends it."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": ENTERPRISE_ID,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(float(event.get("event_ts") or time.time())),
        "authorizations": [
            {
                "enterprise_id": ENTERPRISE_ID,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": True,
        "event_context": "4-" + uuid.uuid4().hex,
    }


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def file_object(
    name: str = "capture-erreur.png", *, title: str | None = None, mimetype: str = "image/png"
) -> dict[str, Any]:
    file_id = "F" + uuid.uuid4().hex[:10].upper()
    return {
        "id": file_id,
        "created": int(time.time()),
        "timestamp": int(time.time()),
        "name": name,
        "title": title or name,
        "mimetype": mimetype,
        "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
        "pretty_type": mimetype.split("/")[-1].upper(),
        "user": "U0SELLER1",
        "size": 48213,
        "mode": "hosted",
        "is_external": False,
        "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{file_id}/{name}",
        "permalink": f"https://comptoir.slack.com/files/U0SELLER1/{file_id}/{name}",
    }


def message_event(
    *,
    channel: str,
    user: str | None = "U0SELLER1",
    text: str = "",
    ts: str | None = None,
    thread_ts: str | None = None,
    files: list[dict[str, Any]] | None = None,
    subtype: str | None = None,
    bot_id: str | None = None,
    event_type: str = "message",
    channel_type: str = "channel",
    event_id: str | None = None,
    user_team: str = "T0SELLERORG",
) -> dict[str, Any]:
    """A `message` (or `app_mention`) event envelope; `files` makes it a `file_share`."""
    ts = ts or new_ts()
    event: dict[str, Any] = {
        "type": event_type,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid4()),
        "team": user_team,
        "user_team": user_team,
        "source_team": user_team,
        "blocks": _rich_text(text) if text else [],
    }
    if event_type == "message":
        event["channel_type"] = channel_type
    if user is not None:
        event["user"] = user
    if thread_ts:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = user
    if files:
        event["files"] = files
        event["upload"] = False
        event["display_as_bot"] = False
        subtype = subtype or "file_share"
    if subtype:
        event["subtype"] = subtype
    if bot_id:
        event["bot_id"] = bot_id
        event["bot_profile"] = {"id": bot_id, "name": "some bot", "app_id": "A0OTHER"}
        event.pop("client_msg_id", None)
    return envelope(event, event_id=event_id)


def app_mention_event(
    *, channel: str, text: str, ts: str | None = None, **kw: Any
) -> dict[str, Any]:
    """`app_mention` as Slack sends it alongside the `message` of the same ts (its twin)."""
    return message_event(channel=channel, text=text, ts=ts, event_type="app_mention", **kw)


def message_changed_event(
    *, channel: str, ts: str, new_text: str, old_text: str, user: str = "U0SELLER1"
) -> dict[str, Any]:
    edit_ts = new_ts()
    return envelope(
        {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": channel,
            "channel_type": "channel",
            "ts": edit_ts,
            "event_ts": edit_ts,
            "message": {
                "type": "message",
                "user": user,
                "text": new_text,
                "ts": ts,
                "edited": {"user": user, "ts": edit_ts},
            },
            "previous_message": {"type": "message", "user": user, "text": old_text, "ts": ts},
        }
    )


def block_actions(
    *,
    action_id: str,
    value: str,
    channel: str,
    message_ts: str,
    user: str = "U0SELLER1",
    thread_ts: str | None = None,
    block_id: str | None = None,
    message: dict[str, Any] | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """An interactivity `block_actions` payload for a button click on a message."""
    return {
        "type": "block_actions",
        "user": {
            "id": user,
            "username": user.lower(),
            "name": user.lower(),
            "team_id": "T0SELLERORG",
        },
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
            **({"thread_ts": thread_ts} if thread_ts else {}),
        },
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
        "team": {"id": team_id, "domain": "comptoir"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": message
        or {
            "type": "message",
            "user": BOT_USER_ID,
            "ts": message_ts,
            "thread_ts": thread_ts,
            "text": "",
        },
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{team_id}/{uuid.uuid4().int % 10**12}/{uuid.uuid4().hex}",
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id or f"feedback:{value}",
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def select_action(
    *,
    action_id: str,
    block_id: str,
    value: str,
    channel: str,
    message_ts: str,
    user: str,
    label: str | None = None,
) -> dict[str, Any]:
    """`block_actions` for a choice in a static_select (e.g. "Change level" → "3")."""
    body = block_actions(
        action_id=action_id,
        value=value,
        channel=channel,
        message_ts=message_ts,
        user=user,
        block_id=block_id,
    )
    option = {"text": {"type": "plain_text", "text": label or value, "emoji": True}, "value": value}
    body["actions"] = [
        {
            "type": "static_select",
            "action_id": action_id,
            "block_id": block_id,
            "selected_option": option,
            "placeholder": {"type": "plain_text", "text": "…", "emoji": True},
            "action_ts": f"{time.time():.6f}",
        }
    ]
    return body


def message_shortcut(
    *,
    callback_id: str,
    user: str,
    channel: str,
    message: dict[str, Any],
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A message shortcut (`message_action`): a person chose one of the app's actions in a
    message's "More actions" menu; `message` is that message as Slack shows it (ts, user,
    text, thread_ts)."""
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": "comptoir"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "channel": {"id": channel, "name": channel.lower()},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
        "response_url": f"https://hooks.slack.com/app/{team_id}/{uuid.uuid4().int % 10**12}/{uuid.uuid4().hex}",
        "message_ts": message["ts"],
        "message": {"type": "message", "team": "T0SELLERORG", **message},
    }


def _initial_state(block: dict[str, Any]) -> dict[str, Any]:
    element = block.get("element") or {}
    kind = element.get("type")
    if kind == "static_select":
        return {"type": kind, "selected_option": element.get("initial_option")}
    return {"type": kind, "value": element.get("initial_value")}


def view_submission(
    view: dict[str, Any], *, user: str, edits: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`view_submission` for a modal as views.open returned it: each input holds its initial
    value unless `edits` (block_id -> the new value, or for a select the option's value) says
    what the person typed or chose instead."""
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block["element"]
        state = _initial_state(block)
        if edits and block["block_id"] in edits:
            new = edits[block["block_id"]]
            if state["type"] == "static_select":
                state["selected_option"] = next(o for o in element["options"] if o["value"] == new)
            else:
                state["value"] = new
        values[block["block_id"]] = {element["action_id"]: state}
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "comptoir"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
        "view": {
            **view,
            "team_id": TEAM_ID,
            "state": {"values": values},
            "hash": uuid.uuid4().hex[:16],
            "app_id": API_APP_ID,
            "bot_id": "B0COMPTOIRBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def app_home_opened(*, user: str, tab: str = "home") -> dict[str, Any]:
    """`app_home_opened`: a person opened the app's Home (or Messages) tab."""
    ts = new_ts()
    return envelope(
        {
            "type": "app_home_opened",
            "user": user,
            "channel": "D" + uuid.uuid4().hex[:10].upper(),
            "tab": tab,
            "event_ts": ts,
        }
    )


def slash_command(
    *, text: str, user: str, command: str = "/comptoir", channel: str = "C0SOMEWHERE"
) -> str:
    """A slash command as Slack POSTs it: form-encoded fields, not JSON."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": "comptoir",
        "channel_id": channel,
        "channel_name": channel.lower(),
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": f"https://hooks.slack.com/commands/{TEAM_ID}/{uuid.uuid4().int % 10**12}/{uuid.uuid4().hex}",
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
    }
    return urlencode(fields)


def encode(body_or_payload: str | dict[str, Any]) -> tuple[str, str]:
    """(body, content type): interactivity payloads are form-encoded `payload=`, events are JSON."""
    if isinstance(body_or_payload, str):
        kind = (
            "application/json"
            if body_or_payload.lstrip().startswith(("{", "["))
            else "application/x-www-form-urlencoded"  # interactivity `payload=`, slash commands
        )
        return body_or_payload, kind
    if body_or_payload.get("type") in {
        "block_actions",
        "view_submission",
        "shortcut",
        "message_action",
    }:
        return urlencode(
            {"payload": json.dumps(body_or_payload)}
        ), "application/x-www-form-urlencoded"
    return json.dumps(body_or_payload), "application/json"


def deliver(
    base_url: str,
    body_or_payload: str | dict[str, Any],
    secret: str,
    *,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
    timestamp: int | None = None,
    path: str = "/slack/events",
    timeout: float = 10.0,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POST a signed request to our endpoint the way Slack does (retries carry X-Slack-Retry-*).

    One shared client by default: building an httpx client costs ~100 ms (its TLS context),
    which would swamp the ack latency the benchmarks measure.
    """
    body, content_type = encode(body_or_payload)
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
    headers.update(signed_headers(body, secret, timestamp=timestamp))
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    http = client or _shared_client()
    return http.post(
        base_url.rstrip("/") + path, content=body.encode(), headers=headers, timeout=timeout
    )


@functools.cache
def _shared_client() -> httpx.Client:
    return httpx.Client()  # thread-safe; connections are pooled across deliveries
