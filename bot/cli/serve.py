"""`comptoir serve`: the Slack bot over HTTP (Events API) or Socket Mode."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from bot.supervisor import WorkerSupervisor
    from bot.wiring import Runtime


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
        from slack_bolt.error import BoltError
        from slack_sdk.errors import SlackApiError

        from bot.cli import fail, perf_config_of, policy_of, settings_of
        from bot.inbox import spawn_worker_process
        from bot.server import HttpServer, make_wsgi
        from bot.supervisor import WorkerSupervisor
        from bot.wiring import build_runtime

        settings = settings_of(ctx)
        # the operator's performance file sets the worker's job times; a bad file stops here
        perf_config = perf_config_of(ctx)
        # Refuses placeholder secrets first. This process only verifies, stores and acks
        # seller messages; answering them, delivering the outbox and running the schedule
        # are the worker's (bot.inbox, bot.scheduler), a child process at a lower CPU
        # priority, so neither a burst of questions nor the daily evaluation delays an ack.
        try:
            runtime = build_runtime(
                settings,
                socket=socket,
                inbox_thread=False,
                policy=policy_of(ctx),
                perf_config=perf_config,
            )
        # Bolt asks Slack who the bot is (auth.test) first: no route, a refused or reset
        # connection (OSErrors), a token Slack refuses (BoltError, SlackApiError)
        except (OSError, BoltError, SlackApiError) as exc:
            raise fail(
                f"Slack did not answer auth.test at {settings.slack_api_url} "
                f"({type(exc).__name__}: {exc}); check the network, COMPTOIR_SLACK_API_URL and"
                " COMPTOIR_SLACK_BOT_TOKEN",
                code=1,
            ) from None
        supervisor = None
        if not no_worker:
            serve_pid = str(os.getpid())
            supervisor = WorkerSupervisor(
                lambda: spawn_worker_process(
                    extra=[
                        "--no-migrate",
                        "--leader-retry",
                        str(leader_retry),
                        # at nice 10, and gone with serve (even on SIGKILL): never orphaned
                        "--parent-pid",
                        serve_pid,
                        "--nice",
                        "10",
                    ],
                    env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},  # no spinning threads
                ),
                announce=lambda line: _say(line),
            ).start()
        # SIGTERM (systemd, Kubernetes, kill) stops serve like Ctrl-C: its worker is stopped
        # too, rather than left to find out through PR_SET_PDEATHSIG
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            if socket:
                _serve_socket_mode(runtime.app, settings.slack_app_token)
            else:
                server = HttpServer(
                    make_wsgi(runtime.app, health=partial(serve_health, runtime, supervisor)),
                    host=host,
                    port=port,
                )
                _say(f"listening on http://{host}:{server.port}/slack/events")
                server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends serve at once
            if supervisor is not None:
                supervisor.stop(timeout=settings.worker_stop_grace_seconds + 5.0)
            runtime.close(grace=5.0)


def serve_health(runtime: Runtime, supervisor: WorkerSupervisor | None) -> dict[str, Any]:
    """/healthz: the database answers, a worker beats (wherever it runs: routing.workers), and
    the worker serve started, if any, is alive; with the age of the oldest unanswered message.
    """
    from routing.workers import health_report

    report = health_report(runtime.session_factory)
    if supervisor is not None:
        child = report["worker_process"] = supervisor.state()
        if not child["alive"] and "workers" in report:  # else the database is the news
            report["ok"] = False
            report["reason"] = (
                f"serve's worker is not running ({child['last_exit'] or 'not started yet'})"
            )
    return report


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # a closed stderr must not stop serve
        typer.echo(f"comptoir: {line}", err=True)


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
