"""`comptoir worker`: answer the seller messages `comptoir serve` stored, and send the outbox."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import typer

from bot.settings import Settings


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
        parent_pid: int | None = typer.Option(
            None,
            hidden=True,
            help="Stop when this process (serve, which passes it) is gone, even if SIGKILLed.",
        ),
        nice: int = typer.Option(0, hidden=True, help="Lower this process's CPU priority."),
    ) -> None:
        """Answer stored messages, deliver Slack calls and run the schedule until SIGTERM or
        Ctrl-C.

        Several workers may run against PostgreSQL (claims skip each other's rows); a row left
        by a worker that died or froze is taken again after its lease
        (COMPTOIR_INBOX_LEASE_SECONDS, 60 s). One of them, the
        holder of the leader lock, runs the schedule; another takes over when it dies.
        """
        from bot.cli import perf_config_of, policy_of, settings_of
        from bot.scheduler import lead_schedule, schedule_for
        from bot.wiring import build_runtime
        from routing.workers import Heartbeat

        # First, before anything slow: a SIGTERM (or serve's death) at any moment from here on
        # ends this process within the grace period (COMPTOIR_WORKER_STOP_GRACE_SECONDS), even
        # during start-up or while waiting for the database.
        grace = settings_of(ctx).worker_stop_grace_seconds
        stop = threading.Event()
        state = {"doing": "starting"}

        def request_stop(why: str) -> None:
            if stop.is_set():
                return
            stop.set()
            state["doing"] = "stopping"
            # A graceful stop is bounded: what is not finished by then stays queued (its lease
            # expires and another worker takes it). A daemon timer: it never keeps the process
            # alive itself, and it exits without waiting on anything (not even a full pipe).
            timer = threading.Timer(
                grace,
                _exit_now,
                args=(1,),
                kwargs={"why": f"did not stop within {grace:g} s ({why})"},
            )
            timer.daemon = True
            timer.start()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            request_stop(signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if nice:
            os.nice(nice)
        if parent_pid is not None:
            _die_with(parent_pid, request_stop)
        settings = settings_of(ctx)
        # the operator's performance file sets the periodic jobs' times; a bad file stops here
        perf_config = perf_config_of(ctx)  # a bad file: one line, exit 2
        policy = policy_of(ctx)
        jobs = schedule_for(perf_config)
        if settings.database_url is None:
            settings.ensure_data_dir()  # SQLite in the data dir: the file can be created
        if not _wait_for_database(settings.db_url, migrate=migrate, stop=stop):
            _exit_now(0)
        runtime = build_runtime(
            settings,
            run_migrations=False,  # done above, once the database answered
            policy=policy,
            perf_config=perf_config,
            inbox_thread=False,
            inbox_threads=threads,
            inbox_idle_poll=idle_poll,
            worker_idle_poll=outbox_poll,
        )
        if _index_is_empty(runtime.deps.answerer):
            _say(
                "warning: the guideline index is empty; every seller question gets"
                " an apology and goes to a human until `comptoir kb ingest PATH` runs"
            )
        leading = None

        def doing() -> str:
            leads = leading is not None and leading.leading
            return f"{state['doing']}{', leading the schedule' if leads else ''}"

        heartbeat = Heartbeat(runtime.session_factory, doing=doing, announce=_say)
        # the heartbeat says when the database goes and comes back; the loops that retry
        # meanwhile (inbox, outbox, leadership) log their traceback once a minute, not 20 a second
        for handler in logging.getLogger().handlers:
            handler.addFilter(_OncePerOutage())
        code = 0
        try:
            if not stop.is_set():
                runtime.start_background(inbox=True, outbox=True)
                state["doing"] = "running"
                heartbeat.start()
                _say(f"worker running ({threads} threads)")
            if schedule and not stop.is_set():
                leading = lead_schedule(
                    runtime.deps,
                    db_url=settings.db_url,
                    schedule=jobs,
                    retry_seconds=leader_retry,
                    announce=_say,
                )
            while not stop.wait(1.0):
                # serve's death also arrives as SIGTERM on Linux (PR_SET_PDEATHSIG); this is
                # the check that needs no kernel support
                if parent_pid is not None and os.getppid() != parent_pid:
                    _say("the process that started this worker is gone; stopping")
                    request_stop("parent gone")
        except Exception:  # the exit below would hide it: say it, and exit 1 (serve restarts)
            logging.getLogger(__name__).exception("worker failed")
            code = 1
        finally:
            request_stop("finished")  # arms the bound, whatever brought us here
            _say("worker stopping (messages in hand are finished)")
            if leading is not None:
                leading.stop()  # the lock goes at once: a follower need not wait for a timeout
            heartbeat.stop()
            runtime.close(grace=grace)
            # nothing is left to do; do not wait on threads a library may have left behind
            _exit_now(code)


# the default of COMPTOIR_WORKER_STOP_GRACE_SECONDS
STOP_GRACE_SECONDS: float = Settings.model_fields["worker_stop_grace_seconds"].default


def _index_is_empty(answerer: object) -> bool:
    from knowledge.service import KnowledgeBase

    return isinstance(answerer, KnowledgeBase) and answerer.index.count() == 0


def _die_with(parent_pid: int, request_stop: Callable[[str], None]) -> None:
    """Linux: the kernel sends SIGTERM when the parent dies, however it dies (set here rather
    than in a preexec_fn, which is unsafe in serve's threaded process). Checked once after:
    a parent that died before this line sent nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        _say("the process that started this worker is gone; stopping")
        request_stop("parent gone")


_PR_SET_PDEATHSIG = 1


class _OncePerOutage(logging.Filter):
    """Lets one record a minute through per logger when it carries a database-unreachable
    error (routing.workers.UNREACHABLE, or caused by one); every other record passes."""

    EVERY_SECONDS = 60.0

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        from routing.workers import UNREACHABLE

        error = record.exc_info[1] if record.exc_info else None
        for _ in range(5):  # the error itself or what caused it (a listener's wrapper)
            if error is None or isinstance(error, UNREACHABLE):
                break
            error = error.__cause__ or error.__context__
        if error is None:
            return True
        now = time.monotonic()
        if now - self._last.get(record.name, -self.EVERY_SECONDS) < self.EVERY_SECONDS:
            return False
        self._last[record.name] = now
        return True


def _say(line: str) -> None:
    """One line on stderr; a closed stderr (serve died with the pipe's other end) is no
    reason to stop working, nor to hang."""
    with contextlib.suppress(OSError, ValueError):
        typer.echo(f"comptoir: {line}", err=True)


DATABASE_RETRY_MAX = 30.0


def _wait_for_database(url: str, *, migrate: bool, stop: threading.Event) -> bool:
    """Until the database answers (and is migrated, with `migrate`): one line when it does
    not, then tries again with a doubling delay up to DATABASE_RETRY_MAX seconds. False when a
    stop was requested meanwhile."""
    from routing import migrate as migrations
    from routing.db import make_engine
    from routing.workers import UNREACHABLE, _one_line

    delay, failed = 1.0, False
    while not stop.is_set():
        try:
            # bounded, so a SIGTERM meanwhile is handled soon (a blackholed host never refuses)
            timeout: dict[str, Any] = (
                {} if url.startswith("sqlite") else {"connect_args": {"connect_timeout": 10}}
            )
            engine = make_engine(url, **timeout)
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("SELECT 1")
            finally:
                engine.dispose()
            if migrate:
                migrations.upgrade(url)
        except UNREACHABLE as exc:
            _say(
                f"database unreachable ({_one_line(exc)}); retrying in {delay:g} s"
                if not failed
                else f"database still unreachable; retrying in {delay:g} s"
            )
            failed = True
            stop.wait(delay)
            delay = min(delay * 2, DATABASE_RETRY_MAX)
            continue
        if failed:
            _say("database reachable; starting")
        return True
    return False


def _exit_now(code: int, *, why: str = "") -> None:
    """End the process now. Flushing is best effort and bounded: a pipe nobody reads (or one
    whose reader died) must not keep a stopping worker alive, which an exception or a blocked
    write in flush() used to do."""

    def flush() -> None:
        if why and code:
            _say(f"worker {why}; exiting now")
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()

    flusher = threading.Thread(target=flush, daemon=True)
    flusher.start()
    flusher.join(1.0)
    os._exit(code)
