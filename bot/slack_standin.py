"""A local stand-in for the Slack Web API: a real HTTP server that records every call.

Used by the tests, by `comptoir demo` and by the benchmarks, so a run needs no Slack workspace:

    with SlackStandin() as slack:
        client = WebClient(token=slack.token, base_url=slack.url)
        ...
        slack.wait_for(lambda: slack.posts(channel="C0SHOP1"))

It takes form or JSON bodies as slack_sdk sends them, checks the bearer token, answers the
methods Comptoir uses with Slack's response shapes, and can be told to misbehave for the next
N calls: 429 with Retry-After, 500/503, an `ok: false` error, or a hang past the client timeout.
What was posted can be read back as Slack gives it: chat.postMessage keeps the `metadata`
(`{"event_type": ..., "event_payload": {...}}`), conversations.history and conversations.replies
page through a channel's messages and a thread's (oldest/latest/inclusive/limit/cursor), with
the metadata when `include_all_metadata` is set. A post to a user id lands in their DM, a D…
channel (as conversations.open names it). `when_accepted(hook)` runs a hook after a call was
accepted and before it is answered: a test makes the database fail between Slack's ok and the
bot recording it.
views.open takes a modal with Slack's limits, each trigger_id once; `views()` gives back the
modals opened, which `bot.slack_payloads.view_submission` turns into a submission.
File uploads work as Slack's v2 flow does (files.getUploadURLExternal, a POST of the bytes to
the upload URL, files.completeUploadExternal); `uploads()` gives back the bytes received.
Socket Mode: `apps.connections.open` takes the app-level token (`app_token`, in the
Authorization header, as Slack requires) and hands out a WebSocket URL once a
`bot.socket_standin.SocketModeStandin` is attached; every other method refuses that token.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl

logger = logging.getLogger(__name__)
T = TypeVar("T")

_JSON_FIELDS = (
    "blocks",
    "attachments",
    "metadata",
    "view",
    "files",
)  # form bodies carry these as JSON strings


@dataclass(frozen=True)
class Call:
    """One request Slack would have received."""

    method: str
    params: dict[str, Any]
    outcome: str  # "ok", "error:<code>", "http_<status>", "hung"
    response: dict[str, Any] = field(default_factory=dict)  # what the stand-in answered
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass
class Upload:
    """A file sent through files.getUploadURLExternal → upload URL → files.completeUploadExternal.

    `data` is None until the bytes were POSTed; `completed` once shared (or kept private)."""

    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    completed: bool = False
    title: str | None = None
    channel_id: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None


# The pseudo-method name under which POSTs to an upload URL are recorded and can be scripted
# to fail (`fail_next(status=429, methods=[UPLOAD_URL_METHOD])`).
UPLOAD_URL_METHOD = "files.upload_url"
_CONVERSATION_ID = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")  # what completeUploadExternal accepts
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")  # chat.postMessage to a user id posts in their DM
_PAGE_MAX = 999  # conversations.history / replies: Slack's largest `limit`
# methods called with the app-level token (xapp-…) rather than the bot token (xoxb-…)
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


@dataclass
class _Failure:
    kind: str  # "status" | "error" | "hang" | "slow"
    status: int = 500
    retry_after: float | None = None
    error: str = "internal_error"
    seconds: float = 0.0
    methods: frozenset[str] | None = None

    def applies_to(self, method: str) -> bool:
        if self.methods is None:
            return method != "auth.test"
        return method in self.methods


class SlackStandin:
    """Context manager; `url` is the base URL to give WebClient (and COMPTOIR_SLACK_API_URL)."""

    def __init__(
        self,
        *,
        token: str = "xoxb-comptoir-standin-token",
        app_token: str = "xapp-1-A0COMPTOIR-1-comptoir-standin-token",
        team_id: str = "T0COMPTOIR",
        bot_user_id: str = "U0COMPTOIRBOT",
        bot_id: str = "B0COMPTOIRBOT",
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self._host = host
        self._lock = threading.Lock()
        # called before each look of wait_for: the tests drive the bot's background work here
        self.on_wait: Callable[[], None] | None = None
        self._requests: list[Call] = []
        self._failures: deque[_Failure] = deque()
        self._reactions: set[tuple[str, str, str]] = set()
        self._uploads: dict[str, Upload] = {}
        self._usergroups: dict[str, tuple[str, ...]] = {}
        self._triggers: set[str] = set()  # trigger_ids views.open has used
        self._file_ids = itertools.count(1)
        self._last_ts = Decimal(0)
        # conversation id -> its messages as Slack stores them, in the order they were posted
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._on_accept: Callable[[Call], None] | None = None
        self._release = threading.Event()
        # serve_socket_mode() (bot.socket_standin): issues a one-time WebSocket URL
        self._socket_url: Callable[[], str] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> SlackStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                standin._handle(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("standin: " + format, *args)

        self._server = ThreadingHTTPServer((self._host, 0), Handler)
        self._server.daemon_threads = True
        # a short poll interval so stop() returns at once, not after half a second
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="slack-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # free any request held by a scripted hang
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SlackStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "stand-in not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/api/"

    # --- scripting failures -----------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        retry_after: float | None = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        """The next n matching calls get this HTTP status (429 gets `Retry-After` when given)."""
        error = (
            "ratelimited"
            if status == 429
            else ("service_unavailable" if status == 503 else "internal_error")
        )
        self._script(
            n, _Failure("status", status=status, retry_after=retry_after, error=error), methods
        )

    def error_next(
        self, n: int = 1, *, error: str = "channel_not_found", methods: Iterable[str] | None = None
    ) -> None:
        """The next n matching calls get HTTP 200 with `{"ok": false, "error": error}`."""
        self._script(n, _Failure("error", status=200, error=error), methods)

    def hang_next(
        self, n: int = 1, *, seconds: float = 5.0, methods: Iterable[str] | None = None
    ) -> None:
        """The next n matching calls get no answer for `seconds` (then a 503): a client timeout."""
        self._script(
            n, _Failure("hang", seconds=seconds, status=503, error="service_unavailable"), methods
        )

    def slow_next(
        self, n: int = 1, *, seconds: float = 2.0, methods: Iterable[str] | None = None
    ) -> None:
        """The next n matching calls are answered normally, but only after `seconds`."""
        self._script(n, _Failure("slow", seconds=seconds), methods)

    def _script(self, n: int, failure: _Failure, methods: Iterable[str] | None) -> None:
        failure.methods = frozenset(methods) if methods is not None else None
        with self._lock:
            self._failures.extend(_Failure(**{**failure.__dict__}) for _ in range(n))

    # --- what Slack received ------------------------------------------------------------------

    def requests(self, method: str | None = None) -> list[Call]:
        """Every request, failed ones included."""
        with self._lock:
            return [c for c in self._requests if method is None or c.method == method]

    def calls(self, method: str | None = None) -> list[Call]:
        """Calls Slack accepted (what a person in the workspace would see)."""
        return [c for c in self.requests(method) if c.ok]

    def posts(self, *, channel: str | None = None, thread_ts: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls("chat.postMessage")
            if (channel is None or c.get("channel") == channel)
            and (thread_ts is None or c.get("thread_ts") == thread_ts)
        ]

    def updates(self, *, channel: str | None = None, ts: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls("chat.update")
            if (channel is None or c.get("channel") == channel)
            and (ts is None or c.get("ts") == ts)
        ]

    def reactions(self, *, added: bool = True, timestamp: str | None = None) -> list[Call]:
        method = "reactions.add" if added else "reactions.remove"
        return [
            c for c in self.calls(method) if timestamp is None or c.get("timestamp") == timestamp
        ]

    def wait_for(
        self, probe: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02
    ) -> T:
        """Poll until `probe()` is truthy and return it; fail with what was received otherwise.
        `on_wait`, when set, runs before each look (the tests drive the bot's work with it)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.on_wait is not None:
                self.on_wait()
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                seen = [(c.method, c.outcome) for c in self.requests()]
                raise AssertionError(
                    f"stand-in: condition not met within {timeout}s; calls so far: {seen}"
                )
            time.sleep(interval)

    def serve_socket_mode(self, issue_url: Callable[[], str] | None) -> None:
        """Let apps.connections.open answer with `issue_url()` (None: Socket Mode is off again)."""
        with self._lock:
            self._socket_url = issue_url

    def when_accepted(self, hook: Callable[[Call], None] | None) -> None:
        """Run `hook(call)` after each accepted call, before the caller gets Slack's answer
        (None: no hook). A test stops the database there: Slack has the post, and the bot
        has not recorded it yet. A hook that raises is logged; the call stays accepted."""
        with self._lock:
            self._on_accept = hook

    def add_message(self, channel: str, **fields: Any) -> str:
        """A message someone else posted (a person, another app, as `bot_id`), listed by
        conversations.history/replies as Slack would; returns its ts."""
        ts = self._next_ts()
        with self._lock:
            self._messages.setdefault(channel, []).append({"type": "message", "ts": ts, **fields})
        return ts

    def set_usergroup(self, usergroup_id: str, users: Iterable[str]) -> None:
        """Create the Slack user group (S…) or replace its members."""
        with self._lock:
            self._usergroups[usergroup_id] = tuple(users)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._failures.clear()
            self._reactions.clear()
            self._uploads.clear()
            self._messages.clear()
            self._triggers.clear()

    # --- the server side ----------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        # GET methods (usergroups.users.list) carry their arguments in the query string
        path, _, query = req.path.partition("?")
        method = path.rstrip("/").rsplit("/", 1)[-1]
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        if path.startswith("/upload/v1/"):
            self._handle_upload(req, file_id=method, raw=raw)
            return
        params = _parse_body(raw, req.headers.get("Content-Type") or "")
        params = {**dict(parse_qsl(query, keep_blank_values=True)), **params}
        auth = req.headers.get("Authorization") or ""
        header_token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        token = header_token or params.pop("token", None)
        params.pop("token", None)

        failure = self._take_failure(method)
        if failure is not None and failure.kind == "slow":
            self._release.wait(failure.seconds)
        elif failure is not None:
            self._fail(req, method, params, failure)
            return
        if method in _APP_TOKEN_METHODS:
            # Slack reads the app-level token from the Authorization header only
            token = header_token
        refused = self._refuse_token(method, token)
        if refused is not None:
            self._reply(req, method, params, {"ok": False, "error": refused})
            return
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        body = handler(params) if handler else {"ok": False, "error": "unknown_method"}
        self._reply(req, method, params, body)

    def _refuse_token(self, method: str, token: str | None) -> str | None:
        """The error Slack gives for this token on this method, or None when it is accepted."""
        if not token:
            return "not_authed"
        expected, other = (
            (self.app_token, self.token)
            if method in _APP_TOKEN_METHODS
            else (self.token, self.app_token)
        )
        if token == expected:
            return None
        return "not_allowed_token_type" if token == other else "invalid_auth"

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            for i, failure in enumerate(self._failures):
                if failure.applies_to(method):
                    del self._failures[i]
                    return failure
        return None

    def _fail(
        self, req: BaseHTTPRequestHandler, method: str, params: dict[str, Any], failure: _Failure
    ) -> None:
        if failure.kind == "hang":
            self._record(Call(method, params, "hung"))
            self._release.wait(failure.seconds)
            self._send(req, 503, {"ok": False, "error": failure.error})
            return
        if failure.kind == "error":
            self._record(Call(method, params, f"error:{failure.error}"))
            self._send(req, 200, {"ok": False, "error": failure.error})
            return
        headers = {}
        if failure.status == 429 and failure.retry_after is not None:
            headers["Retry-After"] = f"{failure.retry_after:g}"
        self._record(Call(method, params, f"http_{failure.status}"))
        self._send(req, failure.status, {"ok": False, "error": failure.error}, headers)

    def _reply(
        self, req: BaseHTTPRequestHandler, method: str, params: dict[str, Any], body: dict[str, Any]
    ) -> None:
        call = Call(method, params, "ok" if body.get("ok") else f"error:{body.get('error')}", body)
        self._record(call)
        with self._lock:
            hook = self._on_accept
        if hook is not None and call.ok:
            try:
                hook(call)
            except Exception:
                logger.exception("stand-in: the accept hook failed")
        self._send(req, 200, body)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._requests.append(call)

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json; charset=utf-8")
            req.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                req.send_header(k, v)
            req.end_headers()
            req.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a scripted hang): exactly what was asked for

    # --- Web API methods (Slack's response shapes, trimmed) -----------------------------------

    def _next_ts(self) -> str:
        """A Slack timestamp: the wall clock in microseconds, unique and increasing, so a
        lookup bounded by `oldest` (a time) finds what was posted since."""
        with self._lock:
            ts = max(Decimal(f"{time.time():.6f}"), self._last_ts + Decimal("0.000001"))
            self._last_ts = ts
        return f"{ts:.6f}"

    @staticmethod
    def _dm_id(user: str) -> str:
        """A stable D… id per user, the shape Slack gives a bot's DM with one person."""
        return ("D" + user[1:] + "00000000")[:11]

    def _conversation(self, channel: str) -> str:
        """Where a post lands: a user id means the DM with that user."""
        return self._dm_id(channel) if _USER_ID.match(channel) else channel

    def _api_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://comptoir-standin.slack.com/",
            "team": "Comptoir stand-in",
            "user": "comptoir",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            issue_url = self._socket_url
        if issue_url is None:  # no Socket Mode stand-in attached
            return {"ok": False, "error": "unknown_method"}
        return {"ok": True, "url": issue_url()}

    def _api_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        metadata = p.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            return {"ok": False, "error": "invalid_metadata_format"}
        channel = self._conversation(str(p["channel"]))
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "ts": ts,
            "text": p.get("text", ""),
        }
        if p.get("blocks"):
            message["blocks"] = p["blocks"]
        if p.get("thread_ts"):
            message["thread_ts"] = p["thread_ts"]
        with self._lock:
            self._messages.setdefault(channel, []).append(
                {**message, "metadata": metadata} if metadata else message
            )
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _api_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel") or not p.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        channel = self._conversation(str(p["channel"]))
        with self._lock:  # a message posted here shows its new text in the history
            for message in self._messages.get(channel, []):
                if message["ts"] == p["ts"]:
                    message["text"] = p.get("text", message["text"])
                    if p.get("blocks"):
                        message["blocks"] = p["blocks"]
        return {"ok": True, "channel": channel, "ts": p["ts"], "text": p.get("text", "")}

    # --- reading back: conversations.history / conversations.replies -------------------------

    def _api_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        """A channel's messages, newest first; thread replies stay in their thread."""
        channel = str(p.get("channel") or "")
        if not _CONVERSATION_ID.match(channel):
            return {"ok": False, "error": "channel_not_found"}  # as Slack answers a user id
        with self._lock:
            found = [
                m for m in self._messages.get(channel, []) if m.get("thread_ts") in (None, m["ts"])
            ]
        found.sort(key=lambda m: Decimal(m["ts"]), reverse=True)
        return _page(found, p)

    def _api_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        """A thread, oldest first: its parent, then the replies. The stand-in does not hold the
        messages people wrote (they arrive as events), so any ts is taken as a thread parent;
        Slack would answer thread_not_found for one that does not exist."""
        channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
        if not _CONVERSATION_ID.match(channel):
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "thread_not_found"}
        with self._lock:
            found = [
                m
                for m in self._messages.get(channel, [])
                if m["ts"] == ts or m.get("thread_ts") == ts
            ]
        found.sort(key=lambda m: Decimal(m["ts"]))
        return _page(found, p)

    def _api_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel") or not p.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _api_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        view = p.get("view")
        if isinstance(view, str):
            with contextlib.suppress(json.JSONDecodeError):
                view = json.loads(view)
        if not p.get("user_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        if view.get("type") != "home" or len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": "V" + self._next_ts().replace(".", ""), **view}}

    def _api_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        """A modal, opened with the trigger_id of a click or shortcut (Slack lets it be used once,
        within 3 s; here once). Slack's limits: a title of 24 characters, 100 blocks."""
        view = p.get("view")
        if isinstance(view, str):
            with contextlib.suppress(json.JSONDecodeError):
                view = json.loads(view)
        trigger = str(p.get("trigger_id") or "")
        if not trigger:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            if trigger in self._triggers:
                return {"ok": False, "error": "expired_trigger_id"}
            self._triggers.add(trigger)
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        title = (view.get("title") or {}).get("text") or ""
        if not title or len(title) > 24 or len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": "V" + self._next_ts().replace(".", ""), **view}}

    def views(self) -> list[dict[str, Any]]:
        """The modals opened (views.open accepted), oldest first, as Slack holds them."""
        return [c.response["view"] for c in self.calls("views.open")]

    # --- file uploads (files.upload v2: get a URL, POST the bytes, complete) ----------------

    def uploads(self, *, channel_id: str | None = None, completed: bool = True) -> list[Upload]:
        """Files whose bytes arrived; by default only those completed (shared or private)."""
        with self._lock:
            return [
                u
                for u in self._uploads.values()
                if u.data is not None
                and (u.completed or not completed)
                and (channel_id is None or u.channel_id == channel_id)
            ]

    def _api_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        filename = str(p.get("filename") or "")
        try:
            length = int(p.get("length") or 0)
        except (TypeError, ValueError):
            length = 0
        if not filename or length <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F0STANDIN{next(self._file_ids):04d}"
        with self._lock:
            self._uploads[file_id] = Upload(file_id=file_id, filename=filename, length=length)
        return {
            "ok": True,
            "upload_url": f"http://{self._host}:{self.port}/upload/v1/{file_id}",
            "file_id": file_id,
        }

    def _handle_upload(self, req: BaseHTTPRequestHandler, *, file_id: str, raw: bytes) -> None:
        """The upload URL: no token (it is pre-signed), the raw bytes as the body, text back."""
        params = {"file_id": file_id, "bytes": len(raw)}
        failure = self._take_failure(UPLOAD_URL_METHOD)
        if failure is not None:
            self._fail(req, UPLOAD_URL_METHOD, params, failure)
            return
        with self._lock:
            upload = self._uploads.get(file_id)
            accepted = upload is not None and not upload.completed and len(raw) == upload.length
            if accepted:
                assert upload is not None
                upload.data = raw
        self._record(Call(UPLOAD_URL_METHOD, params, "ok" if accepted else "http_404"))
        body = f"OK - {len(raw)}" if accepted else "Not Found"
        data = body.encode()
        try:
            req.send_response(200 if accepted else 404)
            req.send_header("Content-Type", "text/plain; charset=utf-8")
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _api_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = p.get("files")
        if isinstance(files, str):  # a form body (slack_sdk) carries it as a JSON string
            try:
                files = json.loads(files)
            except json.JSONDecodeError:
                files = None
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channel_id = p.get("channel_id")
        if channel_id is not None and not _CONVERSATION_ID.match(str(channel_id)):
            # as Slack does: a user id (U…) is refused here, a DM needs its D… id
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            found = [
                self._uploads.get(str(f.get("id"))) if isinstance(f, dict) else None for f in files
            ]
            if any(u is None or u.data is None or u.completed for u in found):
                return {"ok": False, "error": "file_not_found"}
            done = []
            for upload, spec in zip(found, files, strict=True):
                assert upload is not None
                upload.completed = True
                upload.title = spec.get("title") or upload.filename
                upload.channel_id = channel_id
                upload.initial_comment = p.get("initial_comment")
                upload.thread_ts = p.get("thread_ts")
                done.append({"id": upload.file_id, "title": upload.title, "name": upload.filename})
        return {"ok": True, "files": done}

    def _api_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        users = str(p.get("users") or "")
        if not users or "," in users:
            return {"ok": False, "error": "users_list_not_supplied" if not users else "not_im"}
        return {"ok": True, "channel": {"id": self._dm_id(users)}}

    def ephemerals(self, *, user: str | None = None) -> list[Call]:
        return [
            c for c in self.calls("chat.postEphemeral") if user is None or c.get("user") == user
        ]

    def _reaction_key(self, p: dict[str, Any]) -> tuple[str, str, str]:
        return (str(p.get("channel")), str(p.get("timestamp")), str(p.get("name")))

    def _api_reactions_add(self, p: dict[str, Any]) -> dict[str, Any]:
        key = self._reaction_key(p)
        with self._lock:
            if key in self._reactions:
                return {"ok": False, "error": "already_reacted"}
            self._reactions.add(key)
        return {"ok": True}

    def _api_reactions_remove(self, p: dict[str, Any]) -> dict[str, Any]:
        key = self._reaction_key(p)
        with self._lock:
            if key not in self._reactions:
                return {"ok": False, "error": "no_reaction"}
            self._reactions.discard(key)
        return {"ok": True}

    def _api_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel") or "")
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": True,
                "is_ext_shared": True,
            },
        }

    def _api_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = str(p.get("user") or "")
        return {
            "ok": True,
            "user": {"id": user, "name": user.lower(), "team_id": self.team_id, "is_bot": False},
        }

    def _api_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            users = self._usergroups.get(str(p.get("usergroup") or ""))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(users)}


def _flag(value: Any) -> bool:
    """A boolean argument as slack_sdk sends it in a query string ("1", "true") or JSON."""
    return value is True or str(value).lower() in ("1", "true")


def _page(messages: list[dict[str, Any]], p: dict[str, Any]) -> dict[str, Any]:
    """One page of messages already in Slack's order, as conversations.history/replies answer:
    `oldest`/`latest` bound the ts (exclusive unless `inclusive`), `limit` (default 100) and an
    opaque `cursor`; metadata only with `include_all_metadata`."""
    try:
        oldest = Decimal(str(p.get("oldest") or 0))
        latest = Decimal(str(p["latest"])) if p.get("latest") else None
        limit = min(max(int(p.get("limit") or 100), 1), _PAGE_MAX)
        cursor = str(p.get("cursor") or "")
        start = int(base64.b64decode(cursor).decode().removeprefix("next:")) if cursor else 0
    except (InvalidOperation, ValueError, TypeError):
        return {"ok": False, "error": "invalid_arguments"}
    inclusive = _flag(p.get("inclusive"))
    in_window = [
        m
        for m in messages
        if (Decimal(m["ts"]) >= oldest if inclusive else Decimal(m["ts"]) > oldest)
        and (
            latest is None
            or (Decimal(m["ts"]) <= latest if inclusive else Decimal(m["ts"]) < latest)
        )
    ]
    with_metadata = _flag(p.get("include_all_metadata"))
    page = [
        dict(m) if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
        for m in in_window[start : start + limit]
    ]
    more = start + limit < len(in_window)
    following = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
    return {
        "ok": True,
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": following},
    }


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return dict(value) if isinstance(value, dict) else {}
    params: dict[str, Any] = dict(parse_qsl(text, keep_blank_values=True))
    for key in _JSON_FIELDS:
        if isinstance(params.get(key), str):
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(params[key])
    return params
