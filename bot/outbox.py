"""Deliver the outbox to Slack: retries on 429 / 5xx / timeouts, stops on permanent errors.

Listeners never call Slack's Web API directly: they write OutboxMessage rows in their own
transaction, then `wake()` the worker. A Slack outage therefore delays answers but loses none.

Posts are sent effectively once. Every chat.postMessage carries its outbox row id in Slack
message metadata. When an attempt's outcome is unknown (a timeout or a dropped connection
during the call, a 5xx, a lease that ran out because the process died or the database failed
between Slack's "ok" and marking the row sent), the next attempt first looks for the tagged
message (conversations.replies in a thread, conversations.history otherwise) and records the
one it finds instead of posting again. A first attempt costs no lookup. Other calls stay at
least once: reactions and chat.update are idempotent, an ephemeral post cannot be looked up.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.error import URLError

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
# Slack's errors that may come after part of the call was done ("it's possible some aspect of
# the operation succeeded"): like a 5xx, the post may be there.
MAYBE_DONE_ERRORS = {"internal_error", "fatal_error"}

# The metadata a post carries when it has none of its own; a card's metadata gets the row id
# added to its event_payload instead (a message holds one metadata object).
OUTBOX_EVENT = "comptoir_outbox"
# How far before the row was written a lookup reaches back (our clock against Slack's), and
# how much of a busy channel it reads before concluding the post is not there.
LOOKUP_CLOCK_MARGIN = timedelta(minutes=5)
LOOKUP_PAGE = 200
LOOKUP_PAGES = 5
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")  # a post to a user id goes to their DM

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
    unknown: bool = False  # the call may have reached Slack: look before sending it again


@dataclass(frozen=True)
class _Claimed:
    """A row this worker holds for one attempt."""

    id: int
    attempt: int
    method: str
    payload: dict[str, Any]
    created_at: datetime
    outcome_unknown: bool  # an earlier attempt may have posted it unrecorded


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
            return _Outcome(
                "retry",
                delay=backoff(attempt),
                error=f"{status} {error}",
                unknown=status >= 500 or error in MAYBE_DONE_ERRORS,
            )
        return _Outcome("failed", error=error)
    # timeouts, refused connections, a garbled body: the network, not the request, is at fault;
    # only a connection never made is sure not to have reached Slack
    return _Outcome(
        "retry",
        delay=backoff(attempt),
        error=f"{type(exc).__name__}: {exc}",
        unknown=not _never_connected(exc),
    )


def _never_connected(exc: Exception) -> bool:
    reason = exc.reason if isinstance(exc, URLError) else exc
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


def tagged(payload: dict[str, Any], row_id: int) -> dict[str, Any]:
    """The post with its outbox row id in its Slack message metadata, where a lookup finds it."""
    metadata = payload.get("metadata")
    if isinstance(metadata, dict) and metadata.get("event_type"):
        event_payload = {**(metadata.get("event_payload") or {}), "outbox_id": row_id}
        return {**payload, "metadata": {**metadata, "event_payload": event_payload}}
    return {
        **payload,
        "metadata": {"event_type": OUTBOX_EVENT, "event_payload": {"outbox_id": row_id}},
    }


def _slack_ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


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
        self._bot_id: str | None = None  # learnt from auth.test at the first lookup

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
            at, at_monotonic = now or utcnow(), time.monotonic()
            with transaction(self.session_factory) as session:
                claimed = [
                    _Claimed(
                        id=row.id,
                        attempt=row.attempts,
                        method=row.method,
                        payload=dict(row.payload),
                        created_at=row.created_at,
                        outcome_unknown=outbox_store.outcome_unknown(row),
                    )
                    for row in outbox_store.claim_due(
                        session, now=at, lease=self.lease, limit=self.batch
                    )
                ]
            if not claimed:
                break
            round_report = DeliveryReport()
            for row in claimed:
                self._deliver_one(row, at, at_monotonic, round_report)
            report.add(round_report)
            if round_report.sent == 0 and round_report.failed == 0:
                break  # everything retried later: nothing new can be due in this pass
        return report

    @staticmethod
    def _elapsed_since(at_monotonic: float, outcome: _Outcome) -> timedelta:
        """Retry-After counts from Slack's answer, not from the start of the round: neither
        a slow call nor the rows sent before it in the round may shorten the wait Slack asked
        for (on a loaded machine they did, by 0.3 s of a 0.5 s wait). Backoffs count from the
        round."""
        if not outcome.from_response:
            return timedelta(0)
        return timedelta(seconds=time.monotonic() - at_monotonic)

    def _deliver_one(
        self, row: _Claimed, at: datetime, at_monotonic: float, report: DeliveryReport
    ) -> None:
        """`at` is the round's time (real or given), taken at `at_monotonic`."""
        row_id, attempt, method, payload = row.id, row.attempt, row.method, row.payload
        outcome = None
        if method == "chat.postMessage" and row.outcome_unknown:
            outcome = self._look_for_earlier_post(row)
        if outcome is None:
            outcome = self._call(row)
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
                    at=at + self._elapsed_since(at_monotonic, outcome) + outcome.delay,
                    error=(outbox_store.OUTCOME_UNKNOWN if outcome.unknown else "") + outcome.error,
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

    def _call(self, row: _Claimed) -> _Outcome:
        """Make the call; a post carries its row id so that a later attempt can find it."""
        payload = tagged(row.payload, row.id) if row.method == "chat.postMessage" else row.payload
        try:
            response = self.client.api_call(row.method, json=payload)
        except Exception as exc:
            return classify(row.method, row.attempt, exc)
        return _Outcome(
            "sent", result=dict(response.data) if isinstance(response.data, dict) else {}
        )

    def _look_for_earlier_post(self, row: _Claimed) -> _Outcome | None:
        """Before posting again after an unknown outcome: did the earlier attempt land?

        Found: it is recorded as sent, with the ts Slack gave it. Not there: None, post it.
        The lookup failing on its own is retried later (still unknown), never a blind post,
        unless Slack refuses it for good (a missing history scope, say): then the post goes
        as before this check existed, at least once, and the error says what to fix.
        """
        try:
            found = self._find_post(row)
        except Exception as exc:
            outcome = classify("conversations.history", row.attempt, exc)
            if outcome.kind != "failed":
                return _Outcome(
                    "retry",
                    delay=outcome.delay,
                    error=f"looking for the earlier post failed: {outcome.error}",
                    from_response=outcome.from_response,
                    unknown=True,
                )
            logger.error(
                "outbox %s: cannot look for an earlier post (%s); posting again, which may "
                "duplicate it (the manifest's *:history scopes allow the lookup)",
                row.id,
                outcome.error,
            )
            return None
        if found is None:
            logger.info("outbox %s: the earlier attempt did not post; posting now", row.id)
            return None
        logger.info("outbox %s: the earlier attempt posted %s; not posting again", row.id, found)
        return _Outcome("sent", result=found)

    def _find_post(self, row: _Claimed) -> dict[str, Any] | None:
        """The message this row posted, as chat.postMessage would have answered, or None.

        In a thread: conversations.replies; at the top of a channel: conversations.history;
        both from shortly before the row was written, a bounded number of pages. A post to a
        user id went to their DM, whose D… id conversations.open gives (im:write, im:history).
        """
        payload = row.payload
        channel = str(payload.get("channel") or "")
        if _USER_ID.match(channel):
            opened = self.client.conversations_open(users=channel)
            channel = str((opened.get("channel") or {}).get("id") or "")
        if self._bot_id is None:
            self._bot_id = str(self.client.auth_test().get("bot_id") or "")
        query: dict[str, Any] = {
            "channel": channel,
            "oldest": _slack_ts(row.created_at - LOOKUP_CLOCK_MARGIN),
            "include_all_metadata": True,
            "limit": LOOKUP_PAGE,
        }
        cursor = None
        for _ in range(LOOKUP_PAGES):
            if payload.get("thread_ts"):
                page = self.client.conversations_replies(
                    ts=str(payload["thread_ts"]), cursor=cursor, **query
                )
            else:
                page = self.client.conversations_history(cursor=cursor, **query)
            for message in page.get("messages") or []:
                if self._is_ours(message, row.id):
                    return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None
        logger.warning(
            "outbox %s: not among the last %d messages of %s; taking it as not posted",
            row.id,
            LOOKUP_PAGE * LOOKUP_PAGES,
            channel,
        )
        return None

    def _is_ours(self, message: dict[str, Any], row_id: int) -> bool:
        """Posted by this app (another install's outbox has the same row ids) for this row."""
        metadata = message.get("metadata") or {}
        event_payload = metadata.get("event_payload") or {}
        return (
            bool(message.get("ts"))
            and message.get("bot_id") == self._bot_id
            and event_payload.get("outbox_id") == row_id
        )

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
