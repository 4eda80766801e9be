"""`comptoir worker`: answer the seller messages `comptoir serve` stored, and send the outbox."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

import typer


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        ctx: typer.Context,
        threads: int = typer.Option(
            2, min=1, help="Messages worked on at once (classification and answers)."
        ),
        idle_poll: float = typer.Option(
            0.1, min=0.01, help="Seconds between inbox checks when idle (serve cannot wake us)."
        ),
        outbox_poll: float = typer.Option(
            0.25, min=0.01, help="Seconds between outbox checks when idle (button replies)."
        ),
        migrate: bool = typer.Option(
            True, help="Bring the database schema up to date first (serve does it too)."
        ),
        schedule: bool = typer.Option(
            True, help="Campaign to run the schedule (SLA sweep, evaluation, nudges, digests)."
        ),
        leader_retry: float = typer.Option(
            5.0,
            min=0.05,
            help="Seconds between a follower's tries to become the scheduler leader (and the"
            " leader's checks that it still is): the bound on a takeover after a crash.",
        ),
    ) -> None:
        """Answer stored messages, deliver Slack calls and run the schedule until SIGTERM or
        Ctrl-C.

        Several workers may run against PostgreSQL (claims skip each other's rows); a row left
        by a worker that died is taken again after its lease (5 minutes). One of them, the
        holder of the leader lock, runs the schedule; another takes over when it dies.
        """
        from bot.cli import settings_of
        from bot.scheduler import lead_schedule, schedule_for
        from bot.wiring import build_runtime
        from routing.performance.config import load_perf_config

        settings = settings_of(ctx)
        # the operator's performance file sets the periodic jobs' times; a bad file stops here
        jobs = schedule_for(load_perf_config(settings.perf_config_path))
        runtime = build_runtime(
            settings,
            run_migrations=migrate,
            inbox_thread=False,
            inbox_threads=threads,
            inbox_idle_poll=idle_poll,
            worker_idle_poll=outbox_poll,
        )
        if _index_is_empty(runtime.deps.answerer):
            typer.echo(
                "comptoir: warning: the guideline index is empty; every seller question gets"
                " an apology and goes to a human until `comptoir kb ingest PATH` runs",
                err=True,
            )
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()
            # a graceful stop is bounded: what is not finished by then stays queued (its
            # lease expires and another worker takes it), so the process never lingers
            threading.Timer(STOP_GRACE_SECONDS, _exit_now, args=(1,)).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        leading = None
        try:
            runtime.start_background(inbox=True, outbox=True)
            typer.echo(f"comptoir: worker running ({threads} threads)", err=True)
            if schedule:
                leading = lead_schedule(
                    runtime.deps,
                    db_url=settings.db_url,
                    schedule=jobs,
                    retry_seconds=leader_retry,
                    announce=lambda line: typer.echo(f"comptoir: {line}", err=True),
                )
            while not stop.wait(1.0):
                pass
        finally:
            typer.echo("comptoir: worker stopping (messages in hand are finished)", err=True)
            if leading is not None:
                leading.stop()  # the lock goes at once: a follower need not wait for a timeout
            runtime.close()
            # nothing is left to do; do not wait on threads a library may have left behind
            _exit_now(0)


STOP_GRACE_SECONDS = 20.0


def _index_is_empty(answerer: object) -> bool:
    from knowledge.service import KnowledgeBase

    return isinstance(answerer, KnowledgeBase) and answerer.index.count() == 0


def _exit_now(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
