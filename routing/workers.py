"""Worker heartbeats: which `comptoir worker` processes are alive, wherever they run.

A worker may run beside `comptoir serve` (its child), on another machine (`serve --no-worker`),
or as one of several on one PostgreSQL database; only the database sees them all. So each
worker upserts its row in `worker_heartbeats` every HEARTBEAT_SECONDS (`Heartbeat`, a thread),
and deletes it when it stops cleanly. A row older than SILENT_AFTER belongs to a worker that
died without a word (SIGKILL, out of memory) or is stuck: `health_report` (for /healthz) says
so, together with the age of the oldest seller message nobody has answered yet.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from routing.db import transaction, utcnow
from routing.models import InboxEvent, WorkerHeartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# Six missed beats: a worker at nice 10 on a loaded machine still beats well within it.
SILENT_AFTER = timedelta(seconds=30)
# A row this old is a worker long gone (killed without deleting it): dropped at the next beat.
FORGET_AFTER = timedelta(hours=1)
# What "unanswered" means: stored and not finished (routing.inbox_store's states).
UNANSWERED = ("queued", "working", "retry")

# The errors that mean "the database is not there (yet)", as opposed to a wrong query.
UNREACHABLE = (OperationalError, InterfaceError)


def new_worker_id() -> str:
    """host:pid plus a random suffix: a pid reused after a restart is another worker."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def beat(
    session_factory: sessionmaker[Session],
    *,
    worker_id: str,
    started_at: datetime,
    doing: str,
    now: datetime | None = None,
) -> None:
    """Upsert this worker's row (only its own process writes it: no race to lose)."""
    now = now or utcnow()
    doing = doing[:200]
    with transaction(session_factory) as session:
        changed = session.execute(
            update(WorkerHeartbeat)
            .where(WorkerHeartbeat.worker_id == worker_id)
            .values(beat_at=now, doing=doing)
        )
        if not getattr(changed, "rowcount", 0):
            session.add(
                WorkerHeartbeat(
                    worker_id=worker_id,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=started_at,
                    beat_at=now,
                    doing=doing,
                )
            )
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))


def forget(session_factory: sessionmaker[Session], worker_id: str) -> None:
    """A clean stop: the worker is gone, not silent."""
    with transaction(session_factory) as session:
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))


def _age(now: datetime, then: datetime) -> float:
    return round(max((now - then).total_seconds(), 0.0), 1)


def health_report(
    session_factory: sessionmaker[Session],
    *,
    now: datetime | None = None,
    silent_after: timedelta = SILENT_AFTER,
) -> dict[str, Any]:
    """For /healthz: `ok` is False, with a `reason`, when no worker has beaten within
    `silent_after` or the database does not answer. Three small queries: cheap to probe."""
    now = now or utcnow()
    try:
        with session_factory() as session:
            rows = session.execute(
                select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc())
            ).scalars()
            workers: list[dict[str, Any]] = [
                {
                    "id": w.worker_id,
                    "host": w.host,
                    "pid": w.pid,
                    "up_s": _age(now, w.started_at),
                    "beat_age_s": _age(now, w.beat_at),
                    "doing": w.doing,
                }
                for w in rows
            ]
            unanswered, oldest = session.execute(
                select(func.count(), func.min(InboxEvent.received_at)).where(
                    InboxEvent.status.in_(UNANSWERED)
                )
            ).one()
    except UNREACHABLE as exc:
        return {"ok": False, "reason": f"database unreachable: {_one_line(exc)}"}
    if oldest is not None and oldest.tzinfo is None:  # min() bypasses the column's type
        oldest = oldest.replace(tzinfo=now.tzinfo)
    limit = silent_after.total_seconds()
    beating = [w for w in workers if w["beat_age_s"] <= limit]
    report: dict[str, Any] = {
        "ok": bool(beating),
        "workers_beating": len(beating),
        "workers": workers,
        "inbox_unanswered": int(unanswered),
        "inbox_oldest_unanswered_s": None if oldest is None else _age(now, oldest),
    }
    if not beating:
        report["reason"] = (
            f"no worker has beaten in {limit:g} s (last beat {workers[0]['beat_age_s']:g} s ago)"
            if workers
            else "no worker is running"
        )
    return report


def _one_line(exc: BaseException) -> str:
    """The driver's first line (a PostgreSQL refusal spans several), without SQLAlchemy's
    background link."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[0] if text else ''}".strip()


class Heartbeat:
    """A daemon thread that beats every `interval` seconds, with what `doing()` says.

    It is also the worker's eye on its database: the first failed beat logs one line through
    `announce` ("database unreachable ...; retrying"), the first good one after it another
    ("database reachable again"), instead of a traceback every few seconds.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        doing: Callable[[], str],
        announce: Callable[[str], None],
        interval: float = HEARTBEAT_SECONDS,
        worker_id: str | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.doing = doing
        self.announce = announce
        self.interval = interval
        self.worker_id = worker_id or new_worker_id()
        self.started_at = utcnow()
        self.reachable = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat_once(self) -> bool:
        try:
            beat(
                self.session_factory,
                worker_id=self.worker_id,
                started_at=self.started_at,
                doing=self.doing(),
            )
        except UNREACHABLE as exc:
            if self.reachable:
                self.announce(
                    f"database unreachable ({_one_line(exc)}); the worker keeps running and"
                    f" retries every {self.interval:g} s"
                )
            self.reachable = False
            return False
        except Exception:
            logger.exception("heartbeat failed")
            return False
        if not self.reachable:
            self.announce("database reachable again")
        self.reachable = True
        return True

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._run, name="comptoir-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            self.beat_once()
            if self._stop.wait(self.interval):
                return

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop beating and delete the row (bounded: the database may be the problem)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        done = threading.Event()

        def forget_row() -> None:
            try:
                forget(self.session_factory, self.worker_id)
            except Exception:
                logger.debug("could not delete the heartbeat row", exc_info=True)
            done.set()

        threading.Thread(target=forget_row, name="comptoir-heartbeat-end", daemon=True).start()
        done.wait(timeout)
