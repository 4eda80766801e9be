"""Leadership: which of several `comptoir worker` processes runs the schedule.

PostgreSQL: the leader holds a session-level `pg_try_advisory_lock(key)` on a connection of
its own, open for the process's lifetime. A killed process's connection closes, its session
ends, and the server releases the lock; a follower that retries then takes it. No lease to
expire, no clock to trust.

SQLite: every process sharing the file is on the same machine, so an exclusive `flock` on a
file next to the database gives the same guarantee (the kernel drops the lock when the
process dies). An in-memory SQLite database belongs to one process: it always leads.

Leadership is a scheduling courtesy, not the correctness guarantee: each periodic run is
also claimed in `job_runs` (routing.job_runs), so a leader that lost its lock without noticing
(a network partition) still cannot run a period twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock, from a readable name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


SCHEDULER_LOCK = "comptoir.scheduler"


def process_owner() -> str:
    """Who holds a lock or runs a job: `hostname:pid`, as job_runs.owner stores it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leader(Protocol):
    """One process's claim to lead. `try_acquire` never blocks; `still_held` checks the
    claim is alive (a dropped PostgreSQL connection means the lock is gone)."""

    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


# A SIGKILLed leader's kernel closes its socket and the server frees the lock at once; a
# leader whose machine vanished sends nothing, and the server would hold the lock until its
# TCP keepalive gives up (two hours by default on Linux). These per-session settings bring
# that down to about idle + interval × count = 25 s. Ignored over a Unix socket.
KEEPALIVE = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


class PostgresLeader:
    """`pg_try_advisory_lock` on a dedicated connection (NullPool: never shared, never
    recycled under us). The connection is in autocommit so it never idles in a transaction."""

    def __init__(self, url: str, *, name: str = SCHEDULER_LOCK) -> None:
        self.key = _lock_key(name)
        self._engine: Engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return self.still_held()
        conn = self._engine.connect()
        try:
            for setting, seconds in KEEPALIVE.items():  # values are ints we own, not input
                conn.execute(text(f"SET {setting} = {int(seconds)}"))
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            )
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn  # keep the session open: the lock lives as long as it does
        else:
            conn.close()
        return got

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            # our own backend still holds the lock (a terminated session would raise here)
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid()"
                    " AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :k"
                ),
                {"k": self.key},
            ).scalar()
        except Exception:
            logger.warning("leader connection lost; leadership released", exc_info=True)
            self._drop()
            return False
        if not held:
            self._drop()
        return bool(held)

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing the session releases it anyway
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


class FileLockLeader:
    """An exclusive, non-blocking `flock` on `path` (POSIX), released by the kernel when the
    process exits, however it exits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        import fcntl

        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = self.path.open("ab")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._file = f
        return True

    def still_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None


class SoleLeader:
    """One process by construction (an in-memory database, or a platform without flock)."""

    def __init__(self) -> None:
        self._held = False

    def try_acquire(self) -> bool:
        self._held = True
        return True

    def still_held(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False


def make_leader(url: str, *, name: str = SCHEDULER_LOCK) -> Leader:
    """The leadership that fits the database URL (see the module docstring)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresLeader(url, name=name)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or os.name != "posix":
            return SoleLeader()
        return FileLockLeader(Path(f"{database}.{name}.lock"))
    raise ValueError(f"no leadership for {parsed.get_backend_name()!r} (PostgreSQL or SQLite)")


class Campaign:
    """Try to lead every `retry_seconds`; once leading, check the claim as often and call
    `on_lost` if it went away (then campaign again). Callbacks run on the campaign's thread;
    an exception in one is logged and leadership is given up, so a broken start never leaves
    a process that holds the lock but runs nothing."""

    def __init__(
        self,
        leader: Leader,
        *,
        on_elected: Callable[[], Any],
        on_lost: Callable[[], Any],
        retry_seconds: float = 5.0,
    ) -> None:
        if retry_seconds <= 0:
            raise ValueError(f"retry_seconds must be > 0, got {retry_seconds!r}")
        self.leader = leader
        self.on_elected = on_elected
        self.on_lost = on_lost
        self.retry_seconds = retry_seconds
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Campaign:
        self._thread = threading.Thread(target=self._run, name="comptoir-leader", daemon=True)
        self._thread.start()
        return self

    def step(self) -> bool:
        """One round (the thread calls it; tests may too). Returns whether we lead after it."""
        if not self.leading:
            try:
                acquired = self.leader.try_acquire()
            except Exception:
                logger.warning("could not reach the database to campaign", exc_info=True)
                return False
            if acquired:
                self.leading = True
                try:
                    self.on_elected()
                except Exception:
                    logger.exception("starting as leader failed; giving leadership up")
                    self.leading = False
                    self.leader.release()
        elif not self.leader.still_held():
            self.leading = False
            try:
                self.on_lost()
            except Exception:
                logger.exception("stepping down failed")
        return self.leading

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()
            self._stop.wait(self.retry_seconds)

    def stop(self) -> None:
        """Stop campaigning, step down (calling on_lost) and release the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.leading:
            self.leading = False
            try:
                self.on_lost()
            finally:
                self.leader.release()
