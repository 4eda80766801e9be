"""Weekly nudges: what a seller is told, in their language, with the guideline that says so."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.perf_blocks import nudge_message
from knowledge.types import Passage
from routing import models
from routing.db import transaction
from routing.nudges import (
    build_nudges,
    do_record_nudge,
    in_quiet_hours,
    iso_week,
    number_pattern,
    pick_guideline,
)
from routing.performance.config import load_perf_config
from tests.performance.perf_rows import add_evaluation, add_seller

MONDAY = date(2026, 11, 30)
CONFIG = load_perf_config()


class NoPassages:
    """A knowledge index that knows nothing: nudges must still be built, without a quote."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def retrieve(self, query: str, *, k: int = 5) -> list[Passage]:
        self.queries.append(query)
        return []


def _cancelling(
    session: Session, seller_id: str, *, name: str, language: str, value: float
) -> None:
    add_seller(session, seller_id, name=name, language=language)
    add_evaluation(
        session,
        seller_id,
        day=MONDAY,
        score=71.0,
        segment="watch",
        values={"cancellation_rate": value},
        alerts=["cancellation_rate"],
        delta=-6.0,
        drops=2,
        projection={"segment": "at_risk", "score": 64.0, "metrics": {"cancellation_rate": 2.7}},
    )


def test_cancellation_alert_quotes_the_french_guideline(
    session_factory: sessionmaker[Session], sample_kb
) -> None:
    with transaction(session_factory) as session:
        _cancelling(session, "boutique-lea", name="Boutique Léa", language="fr", value=1.83)
    with session_factory() as session:
        [nudge] = build_nudges(session, day=MONDAY, config=CONFIG, kb=sample_kb)
    assert (nudge.kind, nudge.metric, nudge.level) == ("act", "cancellation_rate", "alert")
    assert nudge.week == "2026-W49" and nudge.channel_id == "C0BOUTIQUE-LEA"
    assert nudge.guideline is not None
    assert "1,5 %" in nudge.guideline.quote and nudge.guideline.language == "fr"
    assert "annulation" in nudge.guideline.quote.lower()
    assert nudge.guideline.url and "standards-performance" in nudge.guideline.url
    message = nudge_message(nudge)
    body = message["text"]
    assert "taux d'annulation vendeur" in body  # the metric, in French
    assert "1,83 %" in body and "seuil d'alerte de 1,5 %" in body  # value and threshold
    assert "-6 pts" in body and "à risque" in body  # trend and projection
    assert "refusez plutôt" in body  # the action
    assert "Standards de performance vendeur" in body  # the citation
    assert "<!" not in body


def test_english_seller_gets_the_english_passage(
    session_factory: sessionmaker[Session], sample_kb
) -> None:
    with transaction(session_factory) as session:
        _cancelling(session, "north-goods", name="North Goods", language="en", value=1.9)
    with session_factory() as session:
        [nudge] = build_nudges(session, day=MONDAY, config=CONFIG, kb=sample_kb)
    assert nudge.guideline is not None and nudge.guideline.language == "en"
    assert "1.5 %" in nudge.guideline.quote
    body = nudge_message(nudge)["text"]
    assert "seller cancellation rate" in body and "1.9 %" in body
    assert "past the alert threshold of 1.5 %" in body
    assert "Seller performance standards" in body


def test_limit_crossed_beats_an_alert_and_names_the_limit(
    session_factory: sessionmaker[Session], sample_kb
) -> None:
    with transaction(session_factory) as session:
        add_seller(session, "s1", name="Maison Rivière", language="fr")
        add_evaluation(
            session,
            "s1",
            day=MONDAY,
            score=52.0,
            segment="at_risk",
            values={"late_shipment_rate": 9.4, "rating": 4.1},
            alerts=["late_shipment_rate", "rating"],
            limits=["late_shipment_rate"],
        )
    with session_factory() as session:
        [nudge] = build_nudges(session, day=MONDAY, config=CONFIG, kb=sample_kb)
    assert (nudge.metric, nudge.level, nudge.threshold) == ("late_shipment_rate", "limit", 8.0)
    assert nudge.also == ["note moyenne des clients"]
    assert nudge.guideline is not None and "8 %" in nudge.guideline.quote
    body = nudge_message(nudge)["text"]
    assert "9,4 %" in body and "limite de 8 %" in body


def test_healthy_seller_gets_nothing_top_seller_gets_thanks(
    session_factory: sessionmaker[Session],
) -> None:
    kb = NoPassages()
    with transaction(session_factory) as session:
        add_seller(session, "ok", name="Healthy Shop", language="en")
        add_evaluation(session, "ok", day=MONDAY, score=78.0, segment="healthy")
        add_seller(session, "star", name="Star Shop", language="en")
        add_evaluation(session, "star", day=MONDAY, score=93.5, segment="top")
        add_seller(session, "fresh", name="New Shop", language="en")
        add_evaluation(session, "fresh", day=MONDAY, score=None, segment="new")
    with session_factory() as session:
        nudges = build_nudges(session, day=MONDAY, config=CONFIG, kb=kb)
    assert [(n.seller_id, n.kind) for n in nudges] == [("star", "thanks")]
    assert kb.queries == []  # a thank-you quotes no threshold
    body = nudge_message(nudges[0])["text"]
    assert "93.5/100" in body and "Thank you" in body


def test_projection_into_watch_is_something_to_act_on(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        add_seller(session, "p", name="Projected", language="en")
        add_evaluation(
            session,
            "p",
            day=MONDAY,
            score=80.0,
            segment="healthy",
            values={"response_time": 18.0},
            projection={"segment": "watch", "score": 72.0, "metrics": {"response_time": 22.5}},
        )
    with session_factory() as session:
        [nudge] = build_nudges(session, day=MONDAY, config=CONFIG, kb=NoPassages())
    assert (nudge.metric, nudge.level, nudge.guideline) == ("response_time", "projected", None)
    body = nudge_message(nudge)["text"]
    assert "18 h today" in body and "22.5 h at the next evaluation" in body


def test_decline_alone_flags_a_healthy_seller(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        add_seller(session, "d", name="Declining", language="fr")
        add_evaluation(
            session,
            "d",
            day=MONDAY,
            score=76.0,
            segment="healthy",
            delta=-12.0,
            declining=True,
            values={"acceptance_rate": 97.4},
        )
    with session_factory() as session:
        [nudge] = build_nudges(session, day=MONDAY, config=CONFIG, kb=NoPassages())
    assert (nudge.level, nudge.metric) == ("declining", "acceptance_rate")
    assert "Votre score baisse" in nudge_message(nudge)["text"]


def test_without_a_guideline_index_nudges_go_without_a_quote_and_the_run_says_so_once(
    session_factory: sessionmaker[Session], tmp_path, caplog
) -> None:
    from knowledge.embeddings import make_embeddings
    from knowledge.service import KnowledgeBase

    with transaction(session_factory) as session:
        _cancelling(session, "lea", name="Boutique Léa", language="fr", value=1.83)
        _cancelling(session, "tom", name="Tom's Shop", language="en", value=2.4)
    empty = KnowledgeBase.open(
        persist_dir=tmp_path / "never-ingested", embeddings=make_embeddings()
    )
    with session_factory() as session, caplog.at_level("WARNING", logger="routing.nudges"):
        found = build_nudges(session, day=MONDAY, config=CONFIG, kb=empty)
    assert [(n.seller_id, n.metric, n.guideline) for n in found] == [
        ("lea", "cancellation_rate", None),
        ("tom", "cancellation_rate", None),
    ]
    assert "1,83" in nudge_message(found[0])["text"]
    warned = [r for r in caplog.records if "no guideline index" in r.getMessage()]
    assert len(warned) == 1


def test_opt_out_stale_and_other_weeks(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        _cancelling(session, "out", name="Opted Out", language="fr", value=2.0)
        session.get(models.Seller, "out").nudges_opt_out = True  # type: ignore[union-attr]
        add_seller(session, "old", name="Stale", language="fr")
        add_evaluation(
            session,
            "old",
            day=date(2026, 11, 1),
            score=50,
            segment="at_risk",
            values={"rating": 3.9},
            alerts=["rating"],
            limits=["rating"],
        )
    with session_factory() as session:
        assert build_nudges(session, day=MONDAY, config=CONFIG, kb=NoPassages()) == []


def test_at_most_one_nudge_a_week(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        _cancelling(session, "s", name="Weekly", language="fr", value=2.0)
    with transaction(session_factory) as session:
        [nudge] = build_nudges(session, day=MONDAY, config=CONFIG, kb=NoPassages())
        assert do_record_nudge(session, nudge=nudge, text="x", posted=True) is True
    with transaction(session_factory) as session:
        # same week, later day: nothing; and a racing second record is refused, not duplicated
        assert build_nudges(session, day=date(2026, 12, 3), config=CONFIG, kb=NoPassages()) == []
        assert do_record_nudge(session, nudge=nudge, text="y", posted=True) is False
    with session_factory() as session:
        rows = session.scalars(select(models.Nudge)).all()
        assert [(r.seller_id, r.week, r.text) for r in rows] == [("s", "2026-W49", "x")]
        # next week the seller can be nudged again
        add_evaluation(
            session,
            "s",
            day=date(2026, 12, 7),
            score=70,
            segment="watch",
            values={"cancellation_rate": 2.0},
            alerts=["cancellation_rate"],
        )
        assert (
            len(build_nudges(session, day=date(2026, 12, 7), config=CONFIG, kb=NoPassages())) == 1
        )


def test_a_nudge_never_carries_another_sellers_data(
    session_factory: sessionmaker[Session], sample_kb
) -> None:
    with transaction(session_factory) as session:
        _cancelling(session, "alpha-shop", name="Alpha Maison", language="fr", value=1.77)
        add_seller(session, "beta-shop", name="Beta Déco", language="fr")
        add_evaluation(
            session,
            "beta-shop",
            day=MONDAY,
            score=41.0,
            segment="at_risk",
            values={"cancellation_rate": 3.61, "late_shipment_rate": 12.3},
            alerts=["cancellation_rate", "late_shipment_rate"],
            limits=["cancellation_rate", "late_shipment_rate"],
            delta=-17.0,
        )
    with session_factory() as session:
        nudges = {
            n.seller_id: n for n in build_nudges(session, day=MONDAY, config=CONFIG, kb=sample_kb)
        }
    assert set(nudges) == {"alpha-shop", "beta-shop"}
    alpha = nudge_message(nudges["alpha-shop"])
    beta = nudge_message(nudges["beta-shop"])
    alpha_all = str(alpha) + str(nudges["alpha-shop"].to_json())
    beta_all = str(beta) + str(nudges["beta-shop"].to_json())
    for foreign in ("beta-shop", "Beta Déco", "3,61", "12,3", "-17", "41", "C0BETA-SHOP"):
        assert foreign not in alpha_all, foreign
    for foreign in ("alpha-shop", "Alpha Maison", "1,77", "C0ALPHA-SHOP"):
        assert foreign not in beta_all, foreign


def test_quiet_hours_span_midnight() -> None:
    paris = ZoneInfo("Europe/Paris")
    start, end = CONFIG.schedules.quiet_start, CONFIG.schedules.quiet_end
    at = lambda h, m=0: datetime(2026, 11, 30, h, m, tzinfo=paris).astimezone(UTC)  # noqa: E731
    assert in_quiet_hours(at(9, 30), start=start, end=end, tz=paris) is False
    assert in_quiet_hours(at(7, 59), start=start, end=end, tz=paris) is True
    assert in_quiet_hours(at(23, 0), start=start, end=end, tz=paris) is True
    assert in_quiet_hours(at(20, 0), start=start, end=end, tz=paris) is True
    assert in_quiet_hours(at(8, 0), start=start, end=end, tz=paris) is False


def test_numbers_match_in_both_languages_and_not_inside_others() -> None:
    assert number_pattern(1.5).search("supérieur à 1,5 %.")
    assert number_pattern(1.5).search("above 1.5 %.")
    assert not number_pattern(1.5).search("above 11.5 % or 1.55")
    assert number_pattern(4.0).search("inférieure à 4,0.")
    assert number_pattern(20).search("above 20 hours")
    assert not number_pattern(20).search("since 2026, 200 orders")
    assert iso_week(date(2027, 1, 1)) == "2026-W53"


def test_a_passage_without_the_number_is_not_quoted() -> None:
    rule = CONFIG.metrics["cancellation_rate"]
    off_topic = Passage(
        "c1", "Photos must be 1000 px wide.", "Photos", "p.md", "Size", None, "en", 0.9
    )
    assert pick_guideline([off_topic], rule=rule, language="en") is None
    english = Passage(
        "c2",
        "Alert threshold: cancellation rate above 1.5 %. Limit: above 2.5 %.",
        "Standards",
        "s.md",
        "Cancellation",
        None,
        "en",
        0.5,
    )
    # a French seller gets the English passage rather than none, when that is all there is
    found = pick_guideline([off_topic, english], rule=rule, language="fr")
    assert found is not None and found.language == "en" and "1.5 %" in found.quote


def test_cli_preview_shows_what_would_be_posted_without_sending(
    session_factory: sessionmaker[Session], migrated_url: str, tmp_path, sample_kb
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.cli.nudges import preview_nudges

    with transaction(session_factory) as session:
        _cancelling(session, "lea", name="Boutique Léa", language="fr", value=1.83)
        add_seller(session, "star", name="Star Shop", language="en")
        add_evaluation(session, "star", day=MONDAY, score=93.5, segment="top")
    with session_factory() as session:
        [item] = preview_nudges(session, kb=sample_kb, config=CONFIG, day=MONDAY, seller_id="lea")
    assert item["channel"] == "C0LEA" and "1,5 %" in item["message"]["text"]
    # the command itself, on an empty knowledge index (no ingest in this data dir: an
    # operator who starts with performance): a thank-you quotes nothing anyway, and a nudge to
    # act on is shown without its guideline quote
    env = {"COMPTOIR_DATABASE_URL": migrated_url, "COMPTOIR_DATA_DIR": str(tmp_path / "data")}
    args = ["nudges", "preview", "--date", MONDAY.isoformat()]
    result = CliRunner().invoke(app, [*args, "--seller", "star", "--json"], env=env)
    assert result.exit_code == 0, result.output
    [shown] = json.loads(result.stdout)
    assert shown["channel"] == "C0STAR" and shown["nudge"]["kind"] == "thanks"
    one = CliRunner().invoke(app, [*args, "--seller", "star"], env=env)
    assert one.exit_code == 0 and "── C0STAR (star)" in one.stdout and "Léa" not in one.stdout
    everyone = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert everyone.exit_code == 0, everyone.output
    shown_lea = next(i for i in json.loads(everyone.stdout) if i["channel"] == "C0LEA")
    assert shown_lea["nudge"]["metric"] == "cancellation_rate"
    assert shown_lea["nudge"]["guideline"] is None
    assert "1,83" in shown_lea["message"]["text"]  # the seller's own figure, still said
    with session_factory() as session:
        assert session.scalars(select(models.Nudge)).all() == []  # a preview records nothing
