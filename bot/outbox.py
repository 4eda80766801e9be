"""Deliver the outbox to Slack: retries on 429 / 5xx / timeouts, stops on permanent errors.

Listeners never call Slack's Web API directly: they write OutboxMessage rows in their own
transaction, then `wake()` the worker. A Slack outage therefore delays answers but loses none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from routing import outbox_store
from routing.db import transaction, utcnow

logger = logging.getLogger(__name__)

# Errors Slack answers with that clear up by themselves; any other `ok: false` is permanent
# (channel_not_found, not_in_channel, invalid_auth, msg_too_long, …) and retrying cannot help.
TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}
# Outcomes that mean "already done": a replayed reaction is not a failure.
ALREADY_DONE = {("reactions.add", "already_reacted"), ("reactions.remove", "no_reaction")}
MAX_BACKOFF = timedelta(minutes=5)

# Called after Slack took a call, in its own transaction: (session, method, payload, result).
# How a card learns its ts (chat.postMessage answers it); a failing hook is logged, and the
# call stays sent: re-sending a post because bookkeeping failed would duplicate it.
SentHook = Callable[[Session, str, dict[str, Any], dict[str, Any]], None]


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed


@dataclass(frozen=True)
class _Outcome:
    kind: str  # "sent" | "retry" | "failed"
    result: dict[str, Any] | None = None
    delay: timedelta = timedelta(0)
    error: str = ""
    from_response: bool = False  # the delay is Slack's Retry-After: it counts from the answer


def backoff(attempt: int) -> timedelta:
    """1 s, 2 s, 4 s, … capped at five minutes: Slack back soon is retried soon."""
    return min(timedelta(seconds=2 ** max(attempt - 1, 0)), MAX_BACKOFF)


def _retry_after(headers: Any) -> timedelta | None:
    value = None
    if headers:
        value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return timedelta(seconds=max(float(value), 0.0)) if value is not None else None
    except (TypeError, ValueError):
        return None


def classify(method: str, attempt: int, exc: Exception) -> _Outcome:
    """Turn a failed call into: retry after a delay, or give up with the error."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = response.status_code
        data = response.data if isinstance(response.data, dict) else {}
        error = str(data.get("error") or f"http_{status}")
        if (method, error) in ALREADY_DONE:
            return _Outcome("sent", result=dict(data))
        if status == 429:
            asked = _retry_after(response.headers)
            wait = asked or backoff(attempt)
            return _Outcome(
                "retry",
                delay=wait,
                error=f"429 {error}, retry after {wait.total_seconds():g}s",
                from_response=bool(asked),
            )
        if status >= 500 or error in TRANSIENT_ERRORS:
            return _Outcome("retry", delay=backoff(attempt), error=f"{status} {error}")
        return _Outcome("failed", error=error)
    # timeouts, refused connections, a garbled body: the network, not the request, is at fault
    return _Outcome("retry", delay=backoff(attempt), error=f"{type(exc).__name__}: {exc}")


class Outbox:
    """The delivery side of the outbox; `deliver_due(now=...)` is one pass, the worker loops it."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        client: WebClient,
        *,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 20,
        on_sent: SentHook | None = None,
    ) -> None:
        self.on_sent = on_sent
        self.session_factory = session_factory
        self.client = client
        self.lease = lease
        self.batch = batch
        self._wake = threading.Event()

    def enqueue(
        self,
        session: Session,
        *,
        method: str,
        payload: dict[str, Any],
        ordering_key: str | None,
        now: datetime,
    ) -> int:
        """Queue a call inside the caller's transaction; call `wake()` after it commits."""
        return outbox_store.enqueue(
            session, method=method, payload=payload, ordering_key=ordering_key, now=now
        )

    def wake(self) -> None:
        self._wake.set()

    def deliver_due(self, *, now: datetime | None = None, max_rounds: int = 50) -> DeliveryReport:
        """Send every call due at `now`; a thread's next message goes in the next round."""
        report = DeliveryReport()
        for _ in range(max_rounds):
            at = now or utcnow()
            with transaction(self.session_factory) as session:
                claimed = [
                    (row.id, row.attempts, row.method, dict(row.payload))
                    for row in outbox_store.claim_due(
                        session, now=at, lease=self.lease, limit=self.batch
                    )
                ]
            if not claimed:
                break
            round_report = DeliveryReport()
            for row_id, attempt, method, payload in claimed:
                self._deliver_one(row_id, attempt, method, payload, at, round_report)
            report.add(round_report)
            if round_report.sent == 0 and round_report.failed == 0:
                break  # everything retried later: nothing new can be due in this pass
        return report

    @staticmethod
    def _elapsed_since(started: float, outcome: _Outcome) -> timedelta:
        """Retry-After counts from Slack's answer, not from the start of the pass: a slow
        call must not shorten the wait Slack asked for. Backoffs count from the pass."""
        if not outcome.from_response:
            return timedelta(0)
        return timedelta(seconds=time.monotonic() - started)

    def _deliver_one(
        self,
        row_id: int,
        attempt: int,
        method: str,
        payload: dict[str, Any],
        at: datetime,
        report: DeliveryReport,
    ) -> None:
        started = time.monotonic()
        try:
            response = self.client.api_call(method, json=payload)
            outcome = _Outcome(
                "sent", result=dict(response.data) if isinstance(response.data, dict) else {}
            )
        except Exception as exc:
            outcome = classify(method, attempt, exc)
        with transaction(self.session_factory) as session:
            if outcome.kind == "sent":
                outbox_store.mark_sent(
                    session,
                    row_id=row_id,
                    attempt=attempt,
                    result=outcome.result or {},
                    now=utcnow(),
                )
                report.sent += 1
            elif outcome.kind == "retry":
                outbox_store.mark_retry(
                    session,
                    row_id=row_id,
                    attempt=attempt,
                    at=at + self._elapsed_since(started, outcome) + outcome.delay,
                    error=outcome.error,
                )
                logger.warning(
                    "outbox %s %s (attempt %d): %s; will retry",
                    row_id,
                    method,
                    attempt,
                    outcome.error,
                )
                report.retried += 1
            else:
                outbox_store.mark_failed(
                    session, row_id=row_id, attempt=attempt, error=outcome.error
                )
                logger.error("outbox %s %s failed for good: %s", row_id, method, outcome.error)
                report.failed += 1
        if outcome.kind == "sent" and self.on_sent is not None:
            self._after_sent(row_id, method, payload, outcome.result or {})

    def _after_sent(
        self, row_id: int, method: str, payload: dict[str, Any], result: dict[str, Any]
    ) -> None:
        assert self.on_sent is not None
        try:
            with transaction(self.session_factory) as session:
                self.on_sent(session, method, payload, result)
        except Exception:
            logger.exception("outbox %s %s: bookkeeping after delivery failed", row_id, method)

    def seconds_until_due(self, *, now: datetime, ceiling: float) -> float:
        with self.session_factory() as session:
            due = outbox_store.next_due_at(session)
        if due is None:
            return ceiling
        return min(max((due - now).total_seconds(), 0.0), ceiling)


class OutboxWorker:
    """A background thread (in `comptoir worker`, or the demo) that keeps delivering the outbox."""

    def __init__(self, outbox: Outbox, *, idle_poll: float = 2.0) -> None:
        # idle_poll also picks up rows written by another process, which cannot wake us
        self.outbox = outbox
        self.idle_poll = idle_poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> OutboxWorker:
        self._thread = threading.Thread(target=self._run, name="comptoir-outbox", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.outbox.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.outbox.deliver_due()
                wait = self.outbox.seconds_until_due(now=utcnow(), ceiling=self.idle_poll)
            except Exception:
                logger.exception("outbox pass failed; trying again shortly")
                wait = self.idle_poll
            self.outbox._wake.wait(wait)
            self.outbox._wake.clear()
