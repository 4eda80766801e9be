"""`comptoir serve`: the Slack bot over HTTP (Events API) or Socket Mode."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        ctx: typer.Context,
        host: str = typer.Option(
            "127.0.0.1", help="Interface to listen on (0.0.0.0 behind a proxy)."
        ),
        port: int = typer.Option(
            3000, help="HTTP port; Slack posts to /slack/events, probes GET /healthz."
        ),
        socket: bool = typer.Option(
            False,
            "--socket",
            help="Socket Mode (needs COMPTOIR_SLACK_APP_TOKEN): no public URL needed.",
        ),
        leader_retry: float = typer.Option(
            5.0,
            min=0.05,
            help="Passed to the worker this starts: seconds between a follower's tries to become"
            " the scheduler leader (the bound on a takeover after a crash).",
        ),
        no_worker: bool = typer.Option(
            False,
            "--no-worker",
            help="Do not start `comptoir worker` as a child: run it elsewhere (one or more);"
            " the workers also run the schedule.",
        ),
    ) -> None:
        """Migrate the database, open the knowledge base, and answer sellers in Slack."""
        from bot.cli import settings_of
        from bot.inbox import spawn_worker_process, stop_worker_process
        from bot.server import HttpServer, make_wsgi
        from bot.wiring import build_runtime
        from routing.performance.config import load_perf_config

        settings = settings_of(ctx)
        # the operator's performance file sets the worker's job times; a bad file stops here
        load_perf_config(settings.perf_config_path)
        # Refuses placeholder secrets first. This process only verifies, stores and acks
        # seller messages; answering them, delivering the outbox and running the schedule
        # are the worker's (bot.inbox, bot.scheduler), a child process at a lower CPU
        # priority, so neither a burst of questions nor the daily evaluation delays an ack.
        runtime = build_runtime(settings, socket=socket, inbox_thread=False)
        worker = None
        if not no_worker:
            worker = spawn_worker_process(
                extra=["--no-migrate", "--leader-retry", str(leader_retry)],
                env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},  # no spinning embedder threads
                preexec_fn=_background_priority,
            )
        try:
            if socket:
                _serve_socket_mode(runtime.app, settings.slack_app_token)
            else:
                server = HttpServer(
                    make_wsgi(runtime.app, health=runtime.health), host=host, port=port
                )
                typer.echo(
                    f"comptoir: listening on http://{host}:{server.port}/slack/events", err=True
                )
                server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            if worker is not None:
                stop_worker_process(worker)
            runtime.close()


def _serve_socket_mode(app: Any, app_token: str | None) -> None:
    """Connect over Socket Mode, say so once connected, and serve until interrupted."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    handler = SocketModeHandler(app, app_token)
    try:
        try:
            handler.connect()
        except SlackApiError as exc:
            error = exc.response.get("error", exc.response.status_code)
            typer.echo(f"comptoir: Socket Mode connection refused by Slack: {error}", err=True)
            raise typer.Exit(1) from None
        typer.echo("comptoir: connected in Socket Mode", err=True)
        threading.Event().wait()
    finally:
        handler.close()


def _background_priority() -> None:
    """In the worker child before it starts: a lower CPU priority, and (Linux) the order to
    end when serve dies, even by SIGKILL, so no worker is left orphaned."""
    os.nice(10)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1
