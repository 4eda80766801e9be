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
            help="Seconds between a follower's tries to become the scheduler leader (and the"
            " leader's checks that it still is): the bound on a takeover after a crash.",
        ),
        no_worker: bool = typer.Option(
            False,
            "--no-worker",
            help="Do not start `comptoir worker` as a child: run it elsewhere (one or more).",
        ),
    ) -> None:
        """Migrate the database, open the knowledge base, and answer sellers in Slack."""
        from bot.cli import settings_of
        from bot.inbox import spawn_worker_process, stop_worker_process
        from bot.scheduler import LeadingScheduler, build_scheduler, catch_up, schedule_for
        from bot.server import HttpServer, make_wsgi
        from bot.wiring import build_runtime
        from routing.leader import make_leader
        from routing.performance.config import load_perf_config

        settings = settings_of(ctx)
        # the operator's performance file sets the periodic jobs' times; a bad file stops here
        schedule = schedule_for(load_perf_config(settings.perf_config_path))
        # Refuses placeholder secrets first. This process only verifies, stores and acks
        # seller messages; answering them and delivering the outbox is the worker's
        # (bot.inbox), a child process at a lower CPU priority, so a burst of questions
        # never delays an ack.
        runtime = build_runtime(settings, socket=socket, inbox_thread=False)
        worker = None
        if not no_worker:
            worker = spawn_worker_process(
                extra=["--no-migrate"],
                env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},  # no spinning embedder threads
                preexec_fn=_background_priority,
            )
        # The schedule runs in one process only: the one holding the leader lock
        # (routing.leader); the others campaign every `leader_retry` seconds and take over
        # when it dies. A new leader first runs the periods missed while nobody led (once
        # each, job_runs). Each change is said on stderr, like the listening line.
        leading = LeadingScheduler(
            build_scheduler(runtime.deps, schedule),  # runtime.scheduler has the default times
            make_leader(settings.db_url),
            catch_up=lambda: catch_up(runtime.deps, schedule, now=runtime.deps.clock()),
            retry_seconds=leader_retry,
            announce=lambda line: typer.echo(f"comptoir: {line}", err=True),
        ).start()
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
            leading.stop()  # releases the lock at once, so a follower need not wait for a timeout
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
