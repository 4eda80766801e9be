"""The door of Slack's endpoint: only a body Slack could have sent reaches Bolt.

    POST /slack/events ─┬─ larger than MAX_BODY_BYTES (declared or read) ──── 413
                        ├─ not what Slack sends ─────────────────────────────── 400
                        └─ otherwise: Bolt, with the body replayed (signature, listeners)

"What Slack sends" is what Bolt's parser (slack_bolt.request.internals.parse_body) turns into
the dictionary every listener and Bolt's own middleware index without further checks: UTF-8;
a JSON object (`application/json`, or any body starting with "{", which Bolt reads as JSON);
or a form carrying a `payload` field that is a JSON object (interactivity), a slash command
(`command`) or Slack's `ssl_check`. Inside the object, `event` must be an object and
`actions` a list of objects when present: the listeners take both apart.

Why before the signature check: Bolt parses the body when it builds the request, before its
signature middleware runs, so a malformed body used to crash Bolt (500 and a traceback)
signed or not. Checking size and shape first refuses unsigned garbage for the price of one
bounded read and one parse, less than a signed message costs (that one is also HMAC-ed,
parsed again by Bolt and stored); and the 400 tells the sender only what it already knows
about its own bytes ("not a JSON object"), never anything about the server or the secret.
So an unsigned malformed body gets 400, an unsigned well-formed one 401 from Bolt.

Each refusal is one warning line (reason, size, peer), never the body, never a traceback.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

# Slack cuts a message's text at 40,000 characters. Its JSON escapes non-ASCII text as \uXXXX
# (up to 12 bytes for one emoji), and a message event carries the text twice (`text` and the
# rich-text copy in `blocks`), an edit (message_changed) four times (the message and
# `previous_message`): 40,000 x 12 x 4 is about 1.9 MB, plus files and attachments metadata.
# 4 MiB is twice that, so nothing Slack sends is refused; anything larger is not from Slack,
# and reading, signing and parsing 4 MiB costs a few milliseconds, not the worker's minutes.
MAX_BODY_BYTES = 4 * 1024 * 1024
_READ_CHUNK = 64 * 1024

WSGIApp = Callable[..., Iterable[bytes]]


class Refused(Exception):
    """Why a body is not one Slack sends; the message is the whole public reason."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def guard_slack_body(inner: WSGIApp, *, path: str, max_bytes: int = MAX_BODY_BYTES) -> WSGIApp:
    """Wrap Slack's WSGI handler: POSTs to `path` pass only with a body of Slack's size and
    shape, read once here and handed on as a fresh stream; everything else goes straight on."""

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != path:
            return inner(environ, start_response)
        size = 0
        try:
            body = _read_body(environ, max_bytes)
            size = len(body)
            check_shape(body, environ.get("CONTENT_TYPE"))
        except Refused as refused:
            logger.warning(
                "refused a request to %s: %s %s (%s bytes, from %s)",
                path,
                refused.status[:3],
                refused.reason,
                size or environ.get("CONTENT_LENGTH") or "?",
                environ.get("REMOTE_ADDR", "?"),
            )
            reply = json.dumps({"ok": False, "error": refused.reason}).encode()
            start_response(
                refused.status,
                [("Content-Type", "application/json"), ("Content-Length", str(len(reply)))],
            )
            return [reply]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))  # Bolt reads exactly this many bytes
        return inner(environ, start_response)

    return guarded


def _read_body(environ: WSGIEnvironment, max_bytes: int) -> bytes:
    """The body, at most `max_bytes`: the declared length is refused before reading, and the
    bytes actually read are counted too (a chunked body declares nothing)."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared:
        if not declared.isascii() or not declared.isdigit():
            raise Refused("400 Bad Request", "bad Content-Length")
        if int(declared) > max_bytes:
            raise Refused("413 Content Too Large", "body over the size limit")
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    # PEP 3333: never read past a declared length; without one, read until the end
    left = int(declared) if declared else max_bytes + 1
    parts: list[bytes] = []
    while left > 0:
        chunk = stream.read(min(_READ_CHUNK, left))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    body = b"".join(parts)
    if len(body) > max_bytes:
        raise Refused("413 Content Too Large", "body over the size limit")
    if declared and len(body) < int(declared):
        raise Refused("400 Bad Request", "body shorter than its Content-Length")
    return body


def check_shape(body: bytes, content_type: str | None) -> None:
    """Raise Refused unless Bolt will parse `body` into a dictionary the listeners can read."""
    if not body:
        raise Refused("400 Bad Request", "empty body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("400 Bad Request", "body is not UTF-8") from None
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in {"application/json", "application/x-www-form-urlencoded"}:
        raise Refused("400 Bad Request", "content type is not JSON or a form")
    # Bolt's own rule: application/json, or anything starting with "{", is JSON
    if kind == "application/json" or text.startswith("{"):
        _check_object(_json(text, "body"), "body")
        return
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in fields:
        _check_object(_json(fields["payload"], "payload"), "payload")
    elif "command" not in fields and "ssl_check" not in fields:
        raise Refused("400 Bad Request", "form without payload or command")


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:  # JSONDecodeError, and a lone surrogate or the like
        raise Refused("400 Bad Request", f"{what} is not JSON") from None
    except RecursionError:
        raise Refused("400 Bad Request", f"{what} is nested too deeply") from None


def _check_object(value: Any, what: str) -> None:
    if not isinstance(value, dict):
        raise Refused("400 Bad Request", f"{what} is not a JSON object")
    event = value.get("event")
    if event is not None and not isinstance(event, dict):
        raise Refused("400 Bad Request", "event is not a JSON object")
    actions = value.get("actions")
    if actions is not None and not (
        isinstance(actions, list) and all(isinstance(a, dict) for a in actions)
    ):
        raise Refused("400 Bad Request", "actions is not a list of JSON objects")
