"""Nudges and digests posted through the outbox to the Slack stand-in, chart upload included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.outbox import Outbox
from bot.perf_posting import post_digests, post_nudges
from bot.slack_standin import UPLOAD_URL_METHOD, SlackStandin
from routing import models
from routing.charts import png_size
from routing.db import transaction
from routing.performance.config import load_perf_config
from tests.performance.perf_rows import add_evaluation, add_seller, weekly_history

MONDAY = date(2026, 11, 30)
MORNING = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)  # 09:30 in Paris
NIGHT = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)  # 23:00 in Paris: quiet hours
CONFIG = load_perf_config()
ALICE, BOB = "U0AMALICE", "U0AMBOB01"


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    with SlackStandin() as standin:
        yield standin


@pytest.fixture
def outbox(slack: SlackStandin, session_factory: sessionmaker[Session]) -> Outbox:
    client = WebClient(token=slack.token, base_url=slack.url, timeout=5, retry_handlers=[])
    return Outbox(session_factory, client)


def _sellers(session: Session) -> None:
    add_seller(session, "lea", name="Léa <!channel> & co", language="fr", am=ALICE)
    add_evaluation(
        session,
        "lea",
        day=MONDAY,
        score=68,
        segment="watch",
        delta=-11,
        declining=True,
        values={"cancellation_rate": 1.8},
        alerts=["cancellation_rate"],
    )
    weekly_history(session, "lea", until=MONDAY, scores=[84, 80, 79, 68])
    add_seller(session, "north", name="North Goods", language="en", am=BOB)
    add_evaluation(session, "north", day=MONDAY, score=95, segment="top")
    add_seller(session, "calm", name="Calm Shop", language="en", am=BOB)
    add_evaluation(session, "calm", day=MONDAY, score=80, segment="healthy")


def test_nudges_posted_in_each_channel_once(
    session_factory: sessionmaker[Session], outbox: Outbox, slack: SlackStandin, sample_kb
) -> None:
    with transaction(session_factory) as session:
        _sellers(session)
    report = post_nudges(
        session_factory, outbox, kb=sample_kb, config=CONFIG, day=MONDAY, now=MORNING
    )
    assert (report.posted, report.deferred) == (2, False)
    assert outbox.deliver_due(now=MORNING).sent == 2
    [lea] = slack.posts(channel="C0LEA")
    assert "1,8 %" in lea.get("text") and "1,5 %" in lea.get("text")
    assert "<!channel>" not in str(lea.params)
    [north] = slack.posts(channel="C0NORTH")
    assert "Thank you" in north.get("text")
    assert slack.posts(channel="C0CALM") == []
    with session_factory() as session:
        rows = {r.seller_id: r for r in session.scalars(select(models.Nudge))}
    assert set(rows) == {"lea", "north"} and all(r.posted for r in rows.values())
    assert rows["lea"].text == lea.get("text") and rows["lea"].language == "fr"
    # the scheduler firing again the same week posts nothing more
    again = post_nudges(
        session_factory, outbox, kb=sample_kb, config=CONFIG, day=MONDAY, now=MORNING
    )
    assert again.posted == 0 and outbox.deliver_due(now=MORNING).sent == 0


def test_nudges_wait_for_the_end_of_quiet_hours(
    session_factory: sessionmaker[Session], outbox: Outbox, slack: SlackStandin, sample_kb
) -> None:
    with transaction(session_factory) as session:
        _sellers(session)
    report = post_nudges(
        session_factory, outbox, kb=sample_kb, config=CONFIG, day=MONDAY, now=NIGHT
    )
    assert report.deferred and report.posted == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(models.Nudge)) == 0
        assert session.scalar(select(func.count()).select_from(models.OutboxMessage)) == 0
    later = NIGHT + timedelta(hours=10)  # 09:00 next morning
    assert (
        post_nudges(
            session_factory, outbox, kb=sample_kb, config=CONFIG, day=MONDAY, now=later
        ).posted
        == 2
    )


def test_digest_dm_with_chart_survives_429s(
    session_factory: sessionmaker[Session], outbox: Outbox, slack: SlackStandin, tmp_path: Path
) -> None:
    with transaction(session_factory) as session:
        _sellers(session)
    waits: list[float] = []
    slack.fail_next(1, status=429, retry_after=0.2, methods=["files.getUploadURLExternal"])
    slack.fail_next(1, status=429, retry_after=0.3, methods=[UPLOAD_URL_METHOD])
    slack.fail_next(1, status=429, retry_after=0, methods=["files.completeUploadExternal"])
    report = post_digests(
        session_factory,
        outbox,
        config=CONFIG,
        day=MONDAY,
        now=MORNING,
        language="fr",
        chart_dir=tmp_path / "charts",
        sleep=waits.append,
    )
    assert waits == [0.2, 0.3]  # Retry-After honoured for both direct steps
    assert (report.posted, report.charts, report.chart_failures) == (1, 1, 0)
    assert report.targets == [ALICE]  # Bob's portfolio has nothing to report
    first = outbox.deliver_due(now=MORNING)
    assert (first.sent, first.retried) == (1, 1)  # the text; the chart got a 429
    assert outbox.deliver_due(now=MORNING + timedelta(seconds=1)).sent == 1
    [dm] = slack.posts(channel=ALICE)
    assert "Léa &lt;!channel&gt; &amp; co" in dm.get("text") and "<!channel>" not in str(dm.params)
    assert "North Goods" not in str(dm.params)
    [upload] = slack.uploads()
    assert upload.channel_id == "D0AMALICE00" and upload.initial_comment
    assert upload.data is not None and png_size(upload.data) == (1000, 500)
    with session_factory() as session:
        [row] = session.scalars(select(models.Digest)).all()
    assert row.account_manager_id == ALICE and row.chart_path
    assert Path(row.chart_path).read_bytes() == upload.data
    # one a day: a second run sends nothing
    assert post_digests(session_factory, outbox, config=CONFIG, day=MONDAY, now=MORNING).posted == 0


def test_digest_text_goes_out_when_the_upload_cannot(
    session_factory: sessionmaker[Session], outbox: Outbox, slack: SlackStandin
) -> None:
    with transaction(session_factory) as session:
        _sellers(session)
    slack.error_next(1, error="not_allowed_token_type", methods=["files.getUploadURLExternal"])
    report = post_digests(
        session_factory, outbox, config=CONFIG, day=MONDAY, now=MORNING, sleep=lambda s: None
    )
    assert (report.posted, report.charts, report.chart_failures) == (1, 0, 1)
    outbox.deliver_due(now=MORNING)
    assert len(slack.posts(channel=ALICE)) == 1 and slack.uploads() == []
