"""Posting nudges (in each seller's channel) and digests (by DM to each account manager).

Messages go through the outbox, in the same transaction that records them as sent: a nudge
row with `posted=True` means "handed to the outbox", which delivers it (retrying 429s and
outages) or leaves it visibly failed; a crash before the commit records nothing and sends
nothing, so the next run sends it once.

The digest's chart cannot travel through the outbox, which carries JSON only. Slack's upload
is three calls; the first two are invisible to anyone (get an upload URL, POST the PNG bytes
to it) and are made here directly, with their own retries (Retry-After honoured, like the
outbox). The DM's conversation id comes from conversations.open, because
files.completeUploadExternal refuses a user id. The visible step, completing the upload into
the DM, is then queued in the outbox right after the digest text, with the same ordering key,
in the transaction that records the digest: the chart always follows its text, and a
digest whose upload failed still goes out, without a chart (logged).
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.outbox import Outbox, backoff, classify
from bot.perf_blocks import chart_comment, digest_message, nudge_message
from routing import digests, nudges
from routing.db import transaction
from routing.performance.config import PerfConfig

logger = logging.getLogger(__name__)
T = TypeVar("T")
UPLOAD_ATTEMPTS = 5
MAX_WAIT = timedelta(seconds=60)  # a longer Retry-After: give up on the chart, send the text


class UploadError(RuntimeError):
    """The chart could not be uploaded; the message says which step and why."""


@dataclass
class PostReport:
    posted: int = 0
    skipped: int = 0  # already sent this week/day, or a digest with nothing to say
    deferred: bool = False  # quiet hours: nothing done, run again later
    charts: int = 0
    chart_failures: int = 0
    targets: list[str] = field(default_factory=list)  # channels / user ids posted to

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---- nudges -------------------------------------------------------------------------------------


def post_nudges(
    session_factory: sessionmaker[Session],
    outbox: Outbox,
    *,
    kb: nudges.Retriever,
    config: PerfConfig,
    day: date,
    now: datetime,
    seller_id: str | None = None,
) -> PostReport:
    """Queue the week's nudges. In quiet hours (the operator's timezone) nothing is done and
    `deferred` is set: a catch-up run at night waits for the morning instead of pinging."""
    sched = config.schedules
    if nudges.in_quiet_hours(now, start=sched.quiet_start, end=sched.quiet_end, tz=sched.tz):
        logger.info("nudges: %s is in quiet hours; deferred", now.isoformat())
        return PostReport(deferred=True)
    report = PostReport()
    with transaction(session_factory) as session:
        for nudge in nudges.build_nudges(
            session, day=day, config=config, kb=kb, seller_id=seller_id
        ):
            message = nudge_message(nudge)
            if not nudges.do_record_nudge(session, nudge=nudge, text=message["text"], posted=True):
                report.skipped += 1  # another run got there first
                continue
            outbox.enqueue(
                session,
                method="chat.postMessage",
                payload={
                    "channel": nudge.channel_id,
                    "unfurl_links": False,
                    "unfurl_media": False,
                    **message,
                },
                ordering_key=f"nudge:{nudge.seller_id}",
                now=now,
            )
            report.posted += 1
            report.targets.append(nudge.channel_id)
    if report.posted:
        outbox.wake()
    return report


# ---- digests ------------------------------------------------------------------------------------


def post_digests(
    session_factory: sessionmaker[Session],
    outbox: Outbox,
    *,
    config: PerfConfig,
    day: date,
    now: datetime,
    language: str = "fr",
    timezone: str = "Europe/Paris",
    chart_dir: Path | None = None,
    account_manager_ids: list[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PostReport:
    """One digest per account manager for `day` (skipped when already sent, or when there is
    nothing to say). The chart PNG is kept under `chart_dir` when given (digests.chart_path)."""
    report = PostReport()
    with session_factory() as session:
        managers = account_manager_ids or digests.account_managers(session)
    for am in managers:
        with session_factory() as session:
            if digests.already_sent(session, account_manager_id=am, day=day):
                report.skipped += 1
                continue
            digest = digests.build_digest(
                session, account_manager_id=am, day=day, now=now, config=config, language=language
            )
        if digest.empty:
            report.skipped += 1
            continue
        message = digest_message(digest, language=language, timezone=timezone, now=now)
        chart_path = None
        upload: tuple[str, str] | None = None
        if digest.chart is not None:
            chart_path = _save_chart(chart_dir, am, day, digest.chart.png)
            try:
                upload = (
                    upload_file(
                        outbox.client,
                        data=digest.chart.png,
                        filename=f"scores-{day.isoformat()}.png",
                        sleep=sleep,
                    ),
                    open_dm(outbox.client, am, sleep=sleep),
                )
            except UploadError:
                logger.exception("digest for %s: chart not uploaded; sending the text alone", am)
                report.chart_failures += 1
        with transaction(session_factory) as session:
            if not digests.do_record_digest(
                session, digest=digest, text=message["text"], chart_path=chart_path
            ):
                report.skipped += 1  # another process sent it meanwhile (its chart is private)
                continue
            key = f"dm:{am}"
            outbox.enqueue(
                session,
                method="chat.postMessage",
                payload={"channel": am, "unfurl_links": False, **message},
                ordering_key=key,
                now=now,
            )
            if upload is not None:
                file_id, dm_channel = upload
                outbox.enqueue(
                    session,
                    method="files.completeUploadExternal",
                    payload={
                        "files": [{"id": file_id, "title": chart_comment(language)}],
                        "channel_id": dm_channel,
                        "initial_comment": chart_comment(language),
                    },
                    ordering_key=key,
                    now=now,
                )
                report.charts += 1
        report.posted += 1
        report.targets.append(am)
    if report.posted:
        outbox.wake()
    return report


def _save_chart(chart_dir: Path | None, am: str, day: date, png: bytes) -> str | None:
    if chart_dir is None:
        return None
    chart_dir.mkdir(parents=True, exist_ok=True)
    path = chart_dir / f"digest-{_safe(am)}-{day.isoformat()}.png"
    path.write_bytes(png)
    return str(path)


def _safe(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in value)


# ---- the direct calls of the upload, with their own retries -------------------------------------


def upload_file(
    client: WebClient,
    *,
    data: bytes,
    filename: str,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = UPLOAD_ATTEMPTS,
) -> str:
    """Steps 1 and 2 of Slack's upload: an upload URL, then the bytes POSTed to it. Returns
    the file id, to be completed (shared) with files.completeUploadExternal."""
    got = _retrying(
        lambda: client.files_getUploadURLExternal(filename=filename, length=len(data)),
        method="files.getUploadURLExternal",
        sleep=sleep,
        attempts=attempts,
    )
    url, file_id = str(got["upload_url"]), str(got["file_id"])
    timeout = float(getattr(client, "timeout", 30) or 30)

    def post() -> None:
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/octet-stream"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()

    _retrying(post, method="upload_url", sleep=sleep, attempts=attempts)
    return file_id


def open_dm(
    client: WebClient,
    user_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = UPLOAD_ATTEMPTS,
) -> str:
    """The D… id of the app's DM with `user_id` (needs the im:write scope)."""
    got = _retrying(
        lambda: client.conversations_open(users=user_id),
        method="conversations.open",
        sleep=sleep,
        attempts=attempts,
    )
    return str(got["channel"]["id"])


def _retrying(
    call: Callable[[], T], *, method: str, sleep: Callable[[float], None], attempts: int
) -> T:
    """The outbox's policy, inline: 429 waits Retry-After, 5xx and timeouts back off, anything
    else is permanent. Raises UploadError with the last error."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except urllib.error.HTTPError as exc:
            status = exc.code
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            if status != 429 and status < 500:
                raise UploadError(f"{method}: HTTP {status}") from exc
            wait = _seconds(retry_after) if status == 429 and retry_after else None
            delay = timedelta(seconds=wait) if wait is not None else backoff(attempt)
            error = f"HTTP {status}"
        except Exception as exc:
            outcome = classify(method, attempt, exc)
            if outcome.kind == "failed":
                raise UploadError(f"{method}: {outcome.error}") from exc
            delay, error = outcome.delay, outcome.error
        if attempt == attempts or delay > MAX_WAIT:
            raise UploadError(f"{method}: {error} after {attempt} attempt(s)")
        logger.warning("%s: %s; retrying in %.1fs", method, error, delay.total_seconds())
        sleep(delay.total_seconds())
    raise AssertionError("unreachable")


def _seconds(value: str) -> float | None:
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None
