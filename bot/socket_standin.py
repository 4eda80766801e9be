"""Slack's Socket Mode, stood in for locally: a real WebSocket server speaking Slack's protocol.

It sits next to the Web API stand-in (bot.slack_standin), which hands out its URLs:

    with SlackStandin() as slack, SocketModeStandin(slack) as socket:
        # the app runs with COMPTOIR_SLACK_APP_TOKEN=slack.app_token and
        # COMPTOIR_SLACK_API_URL=slack.url, and connects by itself
        socket.wait_connected()
        envelope_id = socket.push(slack_payloads.message_event(channel="C0SHOP1", text="…"))
        socket.wait_for(lambda: socket.acks(envelope_id))
        socket.disconnect()  # "refresh_requested": the app opens a new connection

What Slack does (https://docs.slack.dev/apis/events-api/using-socket-mode/), and so this:
`apps.connections.open`, called with the app-level token in the Authorization header,
answers a temporary `wss://…/link/?ticket=…&app_id=…` URL; here it is `ws://127.0.0.1:PORT/…`
(slack_sdk speaks plain WebSocket to a port other than 443), and a ticket serves one
connection, so a reconnect must ask for a new URL. On connect the server sends `hello`. Each
event comes as an `events_api` envelope (`envelope_id`, `payload` = the Events API
`event_callback`, `accepts_response_payload`, `retry_attempt`, `retry_reason`), which the
app acknowledges by sending back `{"envelope_id": …}`; every acknowledgement is recorded. A
`disconnect` message (`refresh_requested`, `warning`, …) asks the app to move to a new
connection; Slack closes the old one a little later, this stand-in leaves that to the app.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.slack_payloads import API_APP_ID
from bot.slack_standin import SlackStandin

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Session:
    """One WebSocket connection the app opened, numbered from 1 in the order they opened."""

    number: int
    ticket: str
    opened_at: float = field(default_factory=time.monotonic)
    hello_sent: bool = False
    closed_at: float | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Envelope:
    """What the stand-in pushed: one envelope on one session."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    retry_attempt: int
    retry_reason: str
    session: int
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Ack:
    """An acknowledgement the app sent back; `payload` is the optional response payload."""

    envelope_id: str
    session: int
    payload: dict[str, Any] | None
    at: float = field(default_factory=time.monotonic)


class SocketModeStandin:
    """Context manager; starting it turns Socket Mode on in `slack` (apps.connections.open)."""

    def __init__(
        self,
        slack: SlackStandin,
        *,
        app_id: str = API_APP_ID,
        host: str = "127.0.0.1",
        approximate_connection_time: int = 18060,
    ) -> None:
        self.slack = slack
        self.app_id = app_id
        self._host = host
        self._connection_time = approximate_connection_time
        self._lock = threading.Lock()
        self._tickets: dict[str, bool] = {}  # ticket -> used
        self._refused: list[str] = []  # tickets of refused handshakes
        self._sessions: list[Session] = []
        self._connections: dict[int, ServerConnection] = {}
        self._envelopes: list[Envelope] = []
        self._acks: list[Ack] = []
        self._numbers = itertools.count(1)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> SocketModeStandin:
        self._server = serve(
            self._session,
            self._host,
            0,
            process_request=self._check_ticket,
            compression=None,  # Slack's sockets carry plain JSON text frames
            close_timeout=2,
            logger=logging.getLogger(__name__ + ".server"),
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode-standin", daemon=True
        )
        self._thread.start()
        self.slack.serve_socket_mode(self.issue_url)
        return self

    def stop(self) -> None:
        self.slack.serve_socket_mode(None)
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> SocketModeStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "stand-in not started"
        return int(self._server.socket.getsockname()[1])

    def issue_url(self) -> str:
        """A new one-time WebSocket URL, as apps.connections.open answers it."""
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets[ticket] = False
        return f"ws://{self._host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # --- what Slack sends -----------------------------------------------------------------

    def push(
        self,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
        timeout: float = 10.0,
    ) -> str:
        """Send an Events API `event_callback` as an `events_api` envelope on the newest open
        session (waiting up to `timeout` for one); return its envelope_id. A redelivery of the
        same event comes in a new envelope with `retry_attempt` > 0, as Slack's retries do."""
        envelope_id = envelope_id or str(uuid.uuid4())
        message = {
            "envelope_id": envelope_id,
            "type": "events_api",
            "payload": payload,
            "accepts_response_payload": False,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        return self._send(message, timeout=timeout)

    def push_interactive(self, payload: dict[str, Any], *, timeout: float = 10.0) -> str:
        """Send a click (a `block_actions` payload, as bot.slack_payloads builds it) as an
        `interactive` envelope; its ack may carry a response payload."""
        message = {
            "envelope_id": str(uuid.uuid4()),
            "type": "interactive",
            "payload": payload,
            "accepts_response_payload": True,
        }
        return self._send(message, timeout=timeout)

    def _send(self, message: dict[str, Any], *, timeout: float) -> str:
        number, connection = self._newest(timeout)
        with self._lock:
            self._envelopes.append(
                Envelope(
                    message["envelope_id"],
                    message["type"],
                    message["payload"],
                    message.get("retry_attempt", 0),
                    message.get("retry_reason", ""),
                    number,
                )
            )
        connection.send(json.dumps(message))
        return str(message["envelope_id"])

    def disconnect(self, reason: str = "refresh_requested", *, timeout: float = 10.0) -> int:
        """Send a `disconnect` message on the newest open session; return its number. The
        session stays open: the app is expected to open a new one and close this one."""
        number, connection = self._newest(timeout)
        connection.send(
            json.dumps(
                {
                    "type": "disconnect",
                    "reason": reason,
                    "debug_info": {"host": f"standin-applink-{number}"},
                }
            )
        )
        return number

    # --- what the app did -----------------------------------------------------------------

    def sessions(self) -> list[Session]:
        with self._lock:
            return list(self._sessions)

    def open_sessions(self) -> list[Session]:
        """Open sessions that got their `hello`, oldest first."""
        return [s for s in self.sessions() if s.open and s.hello_sent]

    def refused(self) -> list[str]:
        """Tickets of handshakes refused (unknown or already used)."""
        with self._lock:
            return list(self._refused)

    def envelopes(self) -> list[Envelope]:
        with self._lock:
            return list(self._envelopes)

    def acks(self, envelope_id: str | None = None) -> list[Ack]:
        with self._lock:
            return [a for a in self._acks if envelope_id is None or a.envelope_id == envelope_id]

    def wait_connected(self, *, after: int = 0, timeout: float = 10.0) -> Session:
        """The newest open session numbered above `after`, once it got its `hello`."""
        session = self.wait_for(
            lambda: next((s for s in reversed(self.open_sessions()) if s.number > after), None),
            timeout=timeout,
        )
        assert session is not None
        return session

    def wait_for(
        self, probe: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02
    ) -> T:
        """Poll until `probe()` is truthy and return it; fail with what was seen otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"socket stand-in: condition not met within {timeout}s; sessions "
                    f"{[(s.number, s.open, s.hello_sent) for s in self.sessions()]}, "
                    f"refused {len(self.refused())}, envelopes {len(self.envelopes())}, "
                    f"acks {[a.envelope_id for a in self.acks()]}"
                )
            time.sleep(interval)

    # --- the server side ------------------------------------------------------------------

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        """The opening handshake: only an issued, unused ticket opens a session."""
        query = parse_qs(urlsplit(request.path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self._lock:
            if self._tickets.get(ticket) is False:
                self._tickets[ticket] = True
                return None
            self._refused.append(ticket)
        return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")

    def _session(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        ticket = (parse_qs(urlsplit(connection.request.path).query).get("ticket") or [""])[0]
        with self._lock:
            session = Session(number=next(self._numbers), ticket=ticket)
            self._sessions.append(session)
            self._connections[session.number] = connection
        try:
            with self._lock:
                open_count = sum(1 for s in self._sessions if s.open)
            connection.send(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": open_count,
                        "debug_info": {
                            "host": f"standin-applink-{session.number}",
                            "build_number": 1,
                            "approximate_connection_time": self._connection_time,
                        },
                        "connection_info": {"app_id": self.app_id},
                    }
                )
            )
            with self._lock:
                session.hello_sent = True
            for message in connection:
                self._received(session, message)
        except ConnectionClosed:
            pass  # the app dropped the socket without a closing handshake, as clients may
        finally:
            with self._lock:
                session.closed_at = time.monotonic()
                self._connections.pop(session.number, None)

    def _received(self, session: Session, message: str | bytes) -> None:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            body = None
        if not (isinstance(body, dict) and isinstance(body.get("envelope_id"), str)):
            logger.debug("socket stand-in: session %d sent %r", session.number, text[:200])
            return
        payload = body.get("payload")
        with self._lock:
            self._acks.append(
                Ack(
                    body["envelope_id"],
                    session.number,
                    payload if isinstance(payload, dict) else None,
                )
            )

    def _newest(self, timeout: float) -> tuple[int, ServerConnection]:
        def find() -> tuple[int, ServerConnection] | None:
            for session in reversed(self.open_sessions()):
                with self._lock:
                    connection = self._connections.get(session.number)
                if connection is not None:
                    return session.number, connection
            return None

        found = self.wait_for(find, timeout=timeout)
        assert found is not None
        return found
