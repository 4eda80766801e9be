"""The account manager's daily digest: own sellers only, what changed, and a readable chart."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.perf_blocks import digest_message
from routing import sla_clocks
from routing.charts import HEIGHT_PX, MAX_SERIES, WIDTH_PX, png_size, score_trend_chart
from routing.db import transaction
from routing.digests import build_digest
from routing.models import Seller
from routing.performance.config import load_perf_config
from routing.sla_policy import load_policy
from routing.tickets import do_open_ticket
from tests.performance.perf_rows import add_evaluation, add_seller, weekly_history

DAY = date(2026, 12, 1)  # a Tuesday
NOW = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
CONFIG = load_perf_config()
ALICE, BOB = "U0AMALICE", "U0AMBOB01"


def _open(session: Session, seller_id: str, *, level: int, at: datetime, thread: str) -> None:
    seller = session.get(Seller, seller_id)
    assert seller is not None
    do_open_ticket(
        session,
        seller=seller,
        channel_id=seller.channel_id,
        thread_ts=thread,
        text="Mes versements sont bloqués",
        kind="problem",
        level=level,
        category="payout",
        confidence=0.9,
        reasons=[],
        now=at,
        policy=load_policy(),
    )


def _portfolio(session: Session) -> None:
    """Alice: one seller entering at risk (with history), one rising, one steady; Bob: one of his own."""
    add_seller(session, "falling", name="Atelier Chute", am=ALICE)
    weekly_history(session, "falling", until=DAY - timedelta(days=1), scores=[82, 78, 70, 58])
    add_evaluation(
        session, "falling", day=DAY - timedelta(days=1), score=62, segment="watch", delta=-9
    )
    add_evaluation(
        session,
        "falling",
        day=DAY,
        score=55,
        segment="at_risk",
        delta=-15,
        declining=True,
        limits=["late_shipment_rate"],
        alerts=["late_shipment_rate"],
    )
    add_seller(session, "rising", name="Rising Crafts", am=ALICE, language="en")
    weekly_history(
        session, "rising", until=DAY - timedelta(days=1), scores=[60, 66, 72, 80], segment="healthy"
    )
    add_evaluation(session, "rising", day=DAY, score=84, segment="healthy", delta=11)
    add_seller(session, "steady", name="Steady Shop", am=ALICE)
    add_evaluation(session, "steady", day=DAY - timedelta(days=1), score=75, segment="watch")
    add_evaluation(session, "steady", day=DAY, score=74, segment="watch", delta=-1)
    add_seller(session, "bobs", name="Bob Secret Store", am=BOB)
    weekly_history(session, "bobs", until=DAY - timedelta(days=1), scores=[70, 50])
    add_evaluation(session, "bobs", day=DAY, score=40, segment="exit_review", delta=-20)
    _open(
        session, "falling", level=3, at=NOW - timedelta(minutes=50), thread="1.1"
    )  # L3: 1 h first response
    _open(session, "rising", level=1, at=NOW - timedelta(hours=1), thread="1.2")  # L1: not listed
    _open(session, "bobs", level=2, at=NOW - timedelta(hours=2), thread="1.3")


def test_digest_lists_only_the_managers_own_sellers(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        _portfolio(session)
        sla_clocks.sweep(session, now=NOW, policy=load_policy())  # 50 min of 1 h: warned
    with session_factory() as session:
        digest = build_digest(session, account_manager_id=ALICE, day=DAY, now=NOW, config=CONFIG)
        bob = build_digest(session, account_manager_id=BOB, day=DAY, now=NOW, config=CONFIG)
    assert sorted(digest.seller_ids) == ["falling", "rising", "steady"]
    assert [(t.level, t.seller_id) for t in digest.tickets] == [(3, "falling")]
    assert digest.tickets[0].next_deadline is not None
    assert [(c.seller_id, c.target, c.state) for c in digest.clocks] == [
        ("falling", "first_response", "at_risk")
    ]
    # watch → at risk is news; watch → watch is not
    assert [(c.seller_id, c.before, c.after) for c in digest.entering] == [
        ("falling", "watch", "at_risk")
    ]
    assert [(m.seller_id, m.delta) for m in digest.movers_up] == [("rising", 11.0)]
    assert [m.seller_id for m in digest.movers_down] == ["falling", "steady"]
    assert digest.attention == ["Atelier Chute", "Steady Shop"]
    assert digest.chart is not None and digest.chart.labels == [
        "Atelier Chute"
    ]  # Steady: no history
    for view in (str(digest.to_json()), digest_message(digest, language="fr", now=NOW)["text"]):
        assert "Bob Secret Store" not in view and "bobs" not in view
    text = digest_message(digest, language="fr", now=NOW)["text"]
    assert "#1001 · N3 · Atelier Chute" in text and "en danger" in text
    assert "sous surveillance → *à risque*" in text
    assert "+11 pts" in text and "-15 pts" in text
    assert [c.seller_id for c in bob.entering] == ["bobs"] and bob.seller_ids == ["bobs"]
    assert "Atelier Chute" not in str(bob.to_json())


def test_breached_clock_and_an_unknown_manager(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        _portfolio(session)
        sla_clocks.sweep(session, now=NOW + timedelta(minutes=30), policy=load_policy())
    with session_factory() as session:
        later = NOW + timedelta(minutes=30)
        digest = build_digest(session, account_manager_id=ALICE, day=DAY, now=later, config=CONFIG)
        nobody = build_digest(
            session, account_manager_id="U0NOBODY1", day=DAY, now=later, config=CONFIG
        )
    assert [c.state for c in digest.clocks] == ["breached"]
    assert "dépassé" in digest_message(digest, language="fr", now=later)["text"]
    assert nobody.empty and nobody.seller_ids == [] and nobody.chart is None
    assert "Rien à signaler" in digest_message(nobody, language="fr", now=later)["text"]


def _line_pixels(image: np.ndarray, color: str) -> int:
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return int((np.abs(image[:, :, :3] - rgb).max(axis=2) < 0.02).sum())


def test_chart_is_a_png_of_fixed_size_with_one_line_per_seller(tmp_path) -> None:
    weeks = [date(2026, 9, 7) + timedelta(weeks=i) for i in range(8)]
    series = {
        f"Seller {i}": [(d, 90 - i * 7 - w * (i % 3), None) for w, d in enumerate(weeks)]
        for i in range(10)
    }
    series["No score yet"] = [(weeks[0], None, None)]
    chart = score_trend_chart(series, title="Scores — Alice — 2026-11-30")
    assert chart.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_size(chart.png) == (WIDTH_PX, HEIGHT_PX) == (1000, 500)
    assert chart.labels == [f"Seller {i}" for i in range(MAX_SERIES)]  # at most eight, in order
    path = tmp_path / "chart.png"
    path.write_bytes(chart.png)
    image = imread(path)
    assert image.shape[:2] == (500, 1000)
    drawn = {c: _line_pixels(image, c) for c in chart.colors}
    assert len(set(chart.colors)) == MAX_SERIES
    assert all(n > 150 for n in drawn.values()), drawn  # every line is really drawn
    # the shaded top band is there too
    assert _line_pixels(image, "#d4edda") > 10_000


def test_chart_bands_are_the_segments_and_every_word_is_in_one_language() -> None:
    weeks = [date(2026, 11, 30) - timedelta(weeks=w) for w in range(3, -1, -1)]
    series = {
        "Atelier Chute": [
            (weeks[0], 80.0, "healthy"),
            (weeks[1], 71.0, "watch"),
            (weeks[2], 66.0, "at_risk"),
            (weeks[3], 62.0, "exit_review"),
        ],
        "Top Shop": [(d, 91.0, "top") for d in weeks],
    }
    fr = score_trend_chart(series, title="Scores — Alice", language="fr", top_min_score=88)
    assert fr.legend == ["top (≥ 88, sans alerte)", "Atelier Chute", "Top Shop", "semaine à risque"]
    en = score_trend_chart(series, title="Scores — Alice", language="en")
    assert en.legend == ["top (≥ 85, no alert)", "Atelier Chute", "Top Shop", "week at risk"]
    assert en.points == [4, 4]
    # no week at risk: no red ring in the legend, and never a score band that no segment uses
    calm = score_trend_chart({"Top Shop": series["Top Shop"]}, title="t", language="en")
    assert calm.legend == ["top (≥ 85, no alert)", "Top Shop"]
    assert not any("60" in text for text in fr.legend + en.legend)


def test_chart_with_nothing_to_draw_and_bad_png() -> None:
    chart = score_trend_chart({"Only nulls": [(date(2026, 11, 30), None, None)]}, title="t")
    assert chart.labels == [] and png_size(chart.png) == (1000, 500)
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(b"GIF89a" + b"\0" * 30)


def test_cli_digests_preview_writes_the_chart_and_records_nothing(
    session_factory: sessionmaker[Session], migrated_url: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from routing import models

    with transaction(session_factory) as session:
        _portfolio(session)
    env = {
        "COMPTOIR_DATABASE_URL": migrated_url,
        "COMPTOIR_DATA_DIR": str(tmp_path / "data"),
        "COMPTOIR_STAFF_LANGUAGE": "en",
    }
    chart = tmp_path / "out" / "alice.png"
    args = ["digests", "preview", "--am", ALICE, "--date", DAY.isoformat()]
    result = CliRunner().invoke(app, [*args, "--json", "--chart", str(chart)], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["chart_path"] == str(chart) and png_size(chart.read_bytes()) == (1000, 500)
    assert out["digest"]["chart"]["labels"] == ["Atelier Chute"]
    assert "Bob Secret Store" not in result.stdout
    text = CliRunner().invoke(app, args, env=env)
    assert text.exit_code == 0 and "Your portfolio — 2026-12-01" in text.stdout
    assert "Atelier Chute: watch → *at risk*" in text.stdout
    with session_factory() as session:
        assert session.scalars(select(models.Digest)).all() == []
    bad = CliRunner().invoke(app, [*args[:-1], "30/11/2026"], env=env)
    assert bad.exit_code == 2 and "is not a date" in bad.output
