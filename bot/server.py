"""The HTTP side: Bolt behind a WSGI app (`/slack/events`, `/healthz`) served by waitress.

`start_http(app)` runs it in a background thread on any port (port 0 picks a free one), for
the tests, the demo and the benchmarks; `comptoir serve` calls `serve_forever()`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import create_server, wasyncore

from bot.http_guard import MAX_BODY_BYTES, guard_slack_body

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
LOOP_TIMEOUT_SECONDS = 1


def make_wsgi(
    app: App, *, health: Callable[[], dict[str, Any]] | None = None
) -> Callable[..., Iterable[bytes]]:
    """One WSGI callable: Slack's endpoint, a health check, 404 elsewhere."""
    # only a body of Slack's size and shape reaches Bolt: 413 / 400 otherwise (bot.http_guard)
    slack = guard_slack_body(SlackRequestHandler(app, path=EVENTS_PATH), path=EVENTS_PATH)

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in {
            "GET",
            "HEAD",
        }:
            return _health(health, start_response)
        return slack(environ, start_response)

    return wsgi


def _health(
    check: Callable[[], dict[str, Any]] | None, start_response: StartResponse
) -> Iterable[bytes]:
    try:
        report = check() if check else {"ok": True}
        status = "200 OK" if report.get("ok") else "503 Service Unavailable"
    except Exception as exc:  # the probe must answer, not crash the worker
        logger.exception("health check failed")
        report = {"ok": False, "reason": f"health check failed: {type(exc).__name__}"}
        status = "503 Service Unavailable"
    body = json.dumps(report).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


class HttpServer:
    """A waitress server; `.port` is the bound port (useful with port 0)."""

    def __init__(
        self, wsgi: Callable[..., Iterable[bytes]], *, host: str, port: int, threads: int = 4
    ) -> None:
        # waitress's select loop wakes this often to notice a stop request. Whole seconds:
        # waitress casts the value to int, and 0.1 became 0, a select() that never slept (a
        # whole core busy at idle).
        self._server: Any = create_server(
            wsgi,
            host=host,
            port=port,
            threads=threads,
            ident="comptoir",
            asyncore_loop_timeout=LOOP_TIMEOUT_SECONDS,
            # waitress buffers a whole body (to disk past 512 KB) before any WSGI app runs;
            # it refuses (413) one declared at this size or more, so a client announcing a
            # gigabyte costs nothing (bot.http_guard says 413 too, for chunked bodies)
            max_request_body_size=MAX_BODY_BYTES + 1,
        )
        self.host = host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        self._server.run()

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._run_quietly, name="comptoir-http", daemon=True)
        self._thread.start()
        return self

    def _run_quietly(self) -> None:
        # stop() closes the sockets under the loop; an OSError then is how it ends
        with contextlib.suppress(OSError):
            self._server.run()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving. One thread closes the sockets: the loop's own, when the trigger wakes
        it; this one only once the loop has ended or cannot be woken. Both at once could close
        a descriptor twice, and the second close hit whatever the process had reused the
        number for by then (a later server's trigger pipe: EBADF in CI)."""
        self._server.task_dispatcher.shutdown()
        loop = self._thread
        if loop is not None and loop.is_alive():
            try:
                self._server.trigger.pull_trigger(partial(wasyncore.close_all, self._server._map))
            except OSError:
                logger.warning("http: the loop could not be woken; closing its sockets here")
            else:
                loop.join(timeout)
                if loop.is_alive():
                    logger.warning("http: the loop did not end within %g s; left to end", timeout)
                return
        wasyncore.close_all(self._server._map)
        if loop is not None:
            loop.join(timeout)  # an empty map ends it within LOOP_TIMEOUT_SECONDS

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_http(
    app: App,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    health: Callable[[], dict[str, Any]] | None = None,
    threads: int = 4,
) -> HttpServer:
    """Serve the Bolt app over HTTP in a background thread; call `.stop()` when done."""
    return HttpServer(make_wsgi(app, health=health), host=host, port=port, threads=threads).start()
