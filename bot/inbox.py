"""Intake split from work: the HTTP process stores seller messages, a worker answers them.

    Slack ─▶ HTTP process: Bolt verifies, authorizes, drops the bot's own events, then
             `store_for_worker` inserts the body into slack_inbox and answers 200 (no listener)
    worker: InboxWorker claims the oldest row, dispatches it through a second Bolt app with the
            same listeners (no signature check: the body was verified when it arrived), marks
            it done, or retries it and finally marks it failed with the error (and the seller
            is told a person will answer). A heartbeat keeps the claim's lease while it works;
            a claim that lost its lease commits nothing more (see InboxWorker).

So answering load (embeddings, retrieval, the database) never competes with the ack, and a
delivery acknowledged just before a crash is in the database, answered when a worker runs.
Buttons, slash commands and the App Home are light, some must answer within 3 s: they stay
in the HTTP process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from sqlalchemy.orm import Session, sessionmaker

from routing import inbox_store
from routing.db import fenced, transient, utcnow

logger = logging.getLogger(__name__)

# The deliveries that cost work (classification, retrieval, answers); everything else is
# handled where it arrives.
WORKER_EVENT_TYPES = frozenset({"message", "app_mention"})
# Where the worker app's error handler leaves a listener's exception for the worker to see.
ERROR_KEY = "comptoir_inbox_error"


class DispatchError(Exception):
    """A stored delivery's listener failed; the message is what the inbox row keeps."""


def wants_worker(body: Mapping[str, Any]) -> str | None:
    """The event id when this delivery goes through the inbox, else None."""
    if body.get("type") != "event_callback":
        return None
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") not in WORKER_EVENT_TYPES:
        return None
    event_id = body.get("event_id")
    return str(event_id) if event_id else None


def inbox_middleware(
    session_factory: sessionmaker[Session],
    *,
    on_stored: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Callable[..., BoltResponse | None]:
    """A Bolt global middleware: register it after Bolt's own (App() adds those first).

    One statement, committed before the 200 (routing.inbox_store.store_committed: on SQLite it
    waits only for other one-statement inbox writes, never for a worker's transaction), then
    200 without next(): no listener runs here for a message. A retry of a stored event id adds
    nothing and is acknowledged too. If the insert fails the exception reaches Bolt, Slack gets
    a 500 and delivers again later: never acked and lost.
    """

    def store_for_worker(
        req: BoltRequest, resp: BoltResponse, next: Callable[[], None]
    ) -> BoltResponse | None:
        event_id = wants_worker(req.body)
        if event_id is None:
            next()
            return resp
        stored = inbox_store.store_committed(
            session_factory, event_id=event_id, body=req.body, now=clock()
        )
        if stored:
            if on_stored is not None:
                on_stored()
        else:
            logger.debug("event %s is already in the inbox (a retry)", event_id)
        return BoltResponse(status=200, body="")

    return store_for_worker


def bolt_dispatcher(app: App) -> Callable[[dict[str, Any]], None]:
    """Run a stored body through `app`'s listeners, synchronously; raises DispatchError when a
    listener raised. `app` must be built with process_before_response=True and no request
    verification (bot.app.create_worker_app)."""

    @app.error
    def keep_error(error: Exception, body: dict[str, Any], context: dict[str, Any]) -> None:
        if not _lease_lost(error):  # not a listener's fault: the worker says it in one line
            logger.exception(
                "unhandled error in a Slack listener (event %s)",
                body.get("event_id"),
                exc_info=error,
            )
        context[ERROR_KEY] = error

    def dispatch(body: dict[str, Any]) -> None:
        request = BoltRequest(
            body=json.dumps(body), headers={"content-type": ["application/json"]}, mode="http"
        )
        response = app.dispatch(request)
        error = request.context.get(ERROR_KEY)
        if error is not None:
            raise DispatchError(f"{type(error).__name__}: {error}") from error
        if response.status >= 500:
            raise DispatchError(f"the worker app answered {response.status}: {response.body}")
        if response.status == 404:
            logger.info("no listener for stored event %s", body.get("event_id"))

    return dispatch


# Told when a delivery fails for good, with its body and the error, inside the claim's fence
# (bot.listeners.giving_up: the seller hears that a person will answer, and a ticket opens).
GiveUp = Callable[[dict[str, Any], str], None]

DEFAULT_LEASE = timedelta(seconds=60)


def _lease_lost(exc: BaseException) -> bool:
    """A LeaseLost anywhere in the chain (a listener's error is wrapped by DispatchError)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, inbox_store.LeaseLost):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _Lease:
    """One claim in hand: its heartbeat thread renews it every `every` seconds until
    `release()`, and `check` fences the transactions of its work (routing.db.fenced)."""

    def __init__(self, worker: InboxWorker, event_id: str, attempt: int) -> None:
        self.worker = worker
        self.event_id = event_id
        self.attempt = attempt
        self.lost = False
        self._released = threading.Event()

    def start(self, every: float) -> _Lease:
        if every > 0:
            threading.Thread(
                target=self._beat,
                args=(every,),
                name=f"comptoir-lease-{self.event_id}",
                daemon=True,
            ).start()
        return self

    def renew(self) -> bool:
        """True while this claim owns its delivery; False, and said once, when it was taken."""
        if self.lost:
            return False
        with inbox_store.writes(self.worker.session_factory) as session:
            kept = inbox_store.renew(
                session,
                event_id=self.event_id,
                attempt=self.attempt,
                now=self.worker.clock(),
                lease=self.worker.lease,
            )
        if not kept and not self._released.is_set():  # once settled, the row is not "working"
            self.lost = True
            logger.warning(
                "inbox %s: attempt %d lost its lease to another worker; what it was doing will"
                " not be posted",
                self.event_id,
                self.attempt,
            )
        return kept

    def check(self, session: Session) -> None:
        if self.lost:
            raise inbox_store.LeaseLost(self.event_id, self.attempt)
        try:
            inbox_store.check_claim(
                session,
                event_id=self.event_id,
                attempt=self.attempt,
                now=self.worker.clock(),
                lease=self.worker.lease,
            )
        except inbox_store.LeaseLost:
            self.lost = True
            raise

    def release(self) -> None:
        self._released.set()

    def _beat(self, every: float) -> None:
        while not self._released.wait(every):
            try:
                if not self.renew():
                    return
            except Exception as exc:  # the database is busy or away: the next beat may work
                logger.warning("inbox %s: renewing the lease failed: %s", self.event_id, exc)


class InboxWorker:
    """Claims stored deliveries oldest first and dispatches them; threads or one pass at a time.

    `work_once()` handles one delivery (tests call it directly); `start()` runs `threads` loops
    that poll every `idle_poll` seconds when idle and are woken at once by `wake()` (the intake
    calls it when worker and intake share a process).

    A claim holds its delivery for `lease`; while the delivery is worked on, a heartbeat thread
    renews it every `heartbeat` (a third of the lease unless given; timedelta(0): no thread,
    `renew_leases()` by hand). A worker that stops renewing (dead, frozen, its machine stalled)
    loses the delivery to another claim once the lease is over, and then commits nothing more
    for it: every transaction of the work checks the claim last (routing.db.fenced), so the
    answer is recorded and queued by one claim only.

    Failures: a database that is busy or away (routing.db.transient: "database is locked", a
    timeout, a dropped connection) is retried after `retry_delay`, however often, and never
    fails the delivery for good; any other error is retried until `max_attempts` claims, and
    then the delivery fails for good: `give_up` tells the seller a person will answer.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        dispatch: Callable[[dict[str, Any]], None],
        *,
        idle_poll: float = 0.2,
        threads: int = 1,
        lease: timedelta = DEFAULT_LEASE,
        heartbeat: timedelta | None = None,
        max_attempts: int = 3,
        retry_delay: timedelta = timedelta(seconds=5),
        clock: Callable[[], datetime] = utcnow,
        wake: threading.Event | None = None,
        give_up: GiveUp | None = None,
    ) -> None:
        if max_attempts < 1 or threads < 1:
            raise ValueError("max_attempts and threads must be at least 1")
        heartbeat = lease / 3 if heartbeat is None else heartbeat
        if lease <= timedelta(0) or not timedelta(0) <= heartbeat < lease:
            raise ValueError("the lease must be positive and the heartbeat shorter than it")
        self.session_factory = session_factory
        self.dispatch = dispatch
        self.idle_poll = idle_poll
        self.threads = threads
        self.lease = lease
        self.heartbeat = heartbeat
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.clock = clock
        self.give_up = give_up
        self._wake = wake if wake is not None else threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._leases: dict[str, _Lease] = {}
        self._leases_lock = threading.Lock()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wake(self) -> None:
        self._wake.set()

    def renew_leases(self) -> list[str]:
        """What the heartbeat does: renew the lease of every delivery in hand; the event ids
        whose lease was lost to another claim."""
        with self._leases_lock:
            leases = list(self._leases.values())
        return [lease.event_id for lease in leases if not lease.renew()]

    def work_once(self) -> str | None:
        """Claim and handle one delivery; its event id, or None when nothing was claimable."""
        now = self.clock()
        with inbox_store.writes(self.session_factory) as session:
            claimed = inbox_store.claim_next(
                session, now=now, lease=self.lease, retry_delay=self.retry_delay
            )
        if claimed is None:
            return None
        event_id, body, attempt = claimed
        lease = _Lease(self, event_id, attempt)
        with self._leases_lock:
            self._leases[event_id] = lease
        lease.start(self.heartbeat.total_seconds())
        try:
            with fenced(lease.check):
                try:
                    self.dispatch(body)
                except Exception as exc:
                    self._record_failure(lease, body, exc)
                else:
                    self._settle(lease, "done")
        finally:
            lease.release()
            with self._leases_lock:
                self._leases.pop(event_id, None)
        return event_id

    def _settle(self, lease: _Lease, outcome: str, error: str = "") -> None:
        """Write the outcome, unless another claim has taken the delivery meanwhile."""
        event_id, attempt, now = lease.event_id, lease.attempt, self.clock()
        with inbox_store.writes(self.session_factory) as session:
            if outcome == "done":
                written = inbox_store.mark_done(
                    session, event_id=event_id, attempt=attempt, now=now
                )
            elif outcome == "retry":
                written = inbox_store.mark_retry(
                    session, event_id=event_id, attempt=attempt, error=error, now=now
                )
            else:
                written = inbox_store.mark_failed(
                    session, event_id=event_id, attempt=attempt, error=error, now=now
                )
        if not written:
            logger.warning(
                "inbox %s: lease lost before it was marked %s (attempt %d)",
                lease.event_id,
                outcome,
                lease.attempt,
            )

    def _record_failure(self, lease: _Lease, body: dict[str, Any], exc: Exception) -> None:
        event_id, attempt = lease.event_id, lease.attempt
        # a DispatchError already names the listener's exception
        error = str(exc) if isinstance(exc, DispatchError) else f"{type(exc).__name__}: {exc}"
        if lease.lost or _lease_lost(exc):
            logger.warning(
                "inbox %s: attempt %d was taken over by another worker; it posted nothing",
                event_id,
                attempt,
            )
            return
        if transient(exc):
            self._settle(lease, "retry", error)
            logger.warning(
                "inbox %s: the database was busy or unreachable (attempt %d), will retry: %s",
                event_id,
                attempt,
                error,
            )
            return
        if attempt < self.max_attempts:
            self._settle(lease, "retry", error)
            logger.warning(
                "inbox %s failed (attempt %d of %d), will retry: %s",
                event_id,
                attempt,
                self.max_attempts,
                error,
            )
            return
        if self._tell_seller(lease, body, error):
            self._settle(lease, "failed", error)
            logger.error("inbox %s failed for good after %d attempts: %s", event_id, attempt, error)

    def _tell_seller(self, lease: _Lease, body: dict[str, Any], error: str) -> bool:
        """Failing for good is never silent: `give_up` tells the seller a person will answer.
        False when the delivery must not be marked failed: the claim was lost (the new owner
        decides), or the database is busy (the delivery is retried, then told)."""
        if self.give_up is None:
            return True
        try:
            self.give_up(body, error)
        except Exception as exc:
            if lease.lost or _lease_lost(exc):
                return False
            if transient(exc):
                self._settle(lease, "retry", error)
                logger.warning(
                    "inbox %s: telling the seller failed (database busy), will retry: %s",
                    lease.event_id,
                    exc,
                )
                return False
            logger.exception("inbox %s: telling the seller of the failure failed", lease.event_id)
        return True

    def drain(self, *, limit: int = 10_000) -> int:
        """Handle deliveries until none is claimable now; how many were handled."""
        handled = 0
        while handled < limit and self.work_once() is not None:
            handled += 1
        return handled

    def start(self) -> InboxWorker:
        if self.running:
            return self
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._run, name=f"comptoir-inbox-{i}", daemon=True)
            for i in range(self.threads)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the deliveries in hand, then stop; the rest stays queued for the next start."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        self._threads = []

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.work_once()
            except Exception:  # the database is down, say: keep the thread, try again soon
                logger.exception("inbox pass failed; trying again shortly")
                handled = None
            if handled is None:
                # idle_poll also picks up rows stored by another process, which cannot wake us
                self._wake.wait(self.idle_poll)
                self._wake.clear()


def worker_argv(*, threads: int | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The command line of `comptoir worker` with this interpreter."""
    argv = [sys.executable, "-c", "from bot.cli import main; main()", "worker"]
    if threads is not None:
        argv += ["--threads", str(threads)]
    return [*argv, *extra]


def spawn_worker_process(
    *,
    threads: int | None = None,
    env: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """Start `comptoir worker` as a child process (same settings: it inherits the environment
    and the working directory). Stop it with `stop_worker_process(proc)`."""
    return subprocess.Popen(
        worker_argv(threads=threads, extra=extra),
        env=dict(os.environ if env is None else env),
        **popen,
    )


def stop_worker_process(proc: subprocess.Popen[Any], *, timeout: float = 30.0) -> None:
    """SIGTERM: the worker finishes the messages in hand (the rest stay queued); killed if it
    has not exited within `timeout`."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("worker process %s did not stop in %ss; killing it", proc.pid, timeout)
        proc.kill()
        proc.wait()
