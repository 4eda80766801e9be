"""Evaluation through the database: segments, exit review, decline, projection, history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from routing.db import transaction
from routing.models import PerfEvaluation
from routing.performance import evaluate
from routing.performance.config import load_perf_config
from tests.performance.helpers import DAY, NOW, add_seller, good_day, put_history

CFG = load_perf_config()


def _evaluate(factory: sessionmaker[Session]) -> dict[str, evaluate.Evaluation]:
    with transaction(factory) as s:
        run = evaluate.evaluate_all(s, day=DAY, config=CFG, now=NOW)
    return {e.seller_id: e for e in run.evaluations}


def test_segments_minimum_orders_and_exit_review(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        for n, sid in enumerate(["top", "new", "late", "recent", "nodata"], start=1):
            add_seller(s, sid, n)
        put_history(s, "top", days=60, day_row=lambda age: good_day())
        # 24 orders in the 30-day window: no score, whatever the metrics
        put_history(
            s, "new", days=60,
            day_row=lambda age: good_day(orders=1, accepted_orders=1, shipments=1,
                                         shipments_with_tracking=1, late_shipments=1,
                                         ratings_count=0, rating_mean="")
            if age < 24 else good_day(orders=0, accepted_orders=0, shipments=0,
                                      shipments_with_tracking=0, customer_messages=0,
                                      ratings_count=0, acceptance_delay_hours="",
                                      response_hours="", rating_mean=""),
        )  # fmt: skip
        # 1 late of 10 every day for 60 days: 10 % > the 8 % limit at every weekly point
        put_history(s, "late", days=60, day_row=lambda age: good_day(late_shipments=1))
        # late only in the last 16 days: at risk now and a week ago, not two weeks ago
        put_history(
            s, "recent", days=60,
            day_row=lambda age: good_day(late_shipments=4 if age <= 15 else 0),
        )  # fmt: skip
    ev = _evaluate(session_factory)
    assert ev["top"].segment == "top" and ev["top"].score == 100.0
    assert ev["top"].orders == 300
    assert ev["new"].orders == 24 and ev["new"].segment == "new" and ev["new"].score is None
    assert ev["late"].values["late_shipment_rate"] == 10.0
    assert ev["late"].limits == ["late_shipment_rate"]
    assert ev["late"].segment == "exit_review"
    assert ev["recent"].segment == "at_risk"
    assert ev["nodata"].segment == "new" and ev["nodata"].orders == 0


def test_rates_and_means_are_weighted_over_the_window(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        add_seller(s, "w")
        # alternate days: 2 accepted orders at 30 h, then 8 accepted at 5 h -> (60 + 40) / 10
        put_history(
            s, "w", days=30,
            day_row=lambda age: good_day(orders=2, accepted_orders=2, shipments=2,
                                         shipments_with_tracking=2, acceptance_delay_hours=30.0,
                                         customer_messages=1, response_hours=13.0,
                                         ratings_count=1, rating_mean=3.0)
            if age % 2 else good_day(orders=8, accepted_orders=8, shipments=8,
                                     shipments_with_tracking=8, acceptance_delay_hours=5.0,
                                     customer_messages=3, response_hours=1.0,
                                     ratings_count=3, rating_mean=5.0),
        )  # fmt: skip
    e = _evaluate(session_factory)["w"]
    assert e.values["acceptance_delay"] == 10.0  # not (30 + 5) / 2
    assert e.values["response_time"] == 4.0  # (13 + 3) / 4
    assert e.values["rating"] == 4.5  # (3 + 15) / 4
    assert e.orders == 150


def test_decline_flags_a_still_healthy_seller(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        add_seller(s, "slide")
        # perfect until 5 days ago, then slower, later and with more claims: every metric
        # still inside its alert over the 30 days, but the score falls by about 18 points
        put_history(
            s, "slide", days=60,
            day_row=lambda age: good_day(acceptance_delay_hours=85.0, response_hours=85.0,
                                         accepted_orders=9, late_shipments=2, incidents=1)
            if age < 5 else good_day(),
        )  # fmt: skip
    e = _evaluate(session_factory)["slide"]
    assert e.alerts == [] and e.segment == "healthy"
    assert e.trend["score_delta_week"] <= -10
    assert e.trend["declining"] and "weekly_drop" in e.trend["reasons"]


def test_three_small_weekly_drops_in_a_row(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        add_seller(s, "drift")
        # acceptance delay, reply time and rating creep a little every day, inside their alert:
        # about 1.5 points lost each week
        put_history(
            s, "drift", days=60,
            day_row=lambda age: good_day(acceptance_delay_hours=12.0 + (60 - age) * 0.12,
                                         response_hours=8.0 + (60 - age) * 0.18,
                                         rating_mean=4.7 - (60 - age) * 0.007),
        )  # fmt: skip
    e = _evaluate(session_factory)["drift"]
    assert e.segment in ("top", "healthy") and e.alerts == []
    assert -10 < e.trend["score_delta_week"] < 0
    assert e.trend["weekly_drops_in_a_row"] >= 3
    assert e.trend["declining"] and e.trend["reasons"] == ["drops_in_a_row"]


def test_projection_of_a_steadily_worsening_metric(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        add_seller(s, "worse", 1)
        add_seller(s, "steady", 2)
        # 100 shipments a day; one more late every 6 days (0 % two months ago, 10 % today)
        put_history(
            s, "worse", days=60,
            day_row=lambda age: good_day(orders=100, accepted_orders=100, shipments=100,
                                         shipments_with_tracking=100,
                                         late_shipments=(60 - age) // 6),
        )  # fmt: skip
        put_history(s, "steady", days=60, day_row=lambda age: good_day())
    ev = _evaluate(session_factory)
    worse = ev["worse"]
    now_rate = worse.values["late_shipment_rate"]
    next_rate = worse.projection["metrics"]["late_shipment_rate"]
    assert 4 < now_rate <= 8 and worse.segment == "watch"
    assert next_rate > 8 and worse.projection["segment"] == "at_risk"
    assert worse.projection["score"] < worse.score
    assert ev["steady"].projection == {
        "segment": "top",
        "score": 100.0,
        "metrics": ev["steady"].values,
        "weeks_ahead": 1,
    }


def test_weekly_history_changes_and_movers(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        add_seller(s, "a", 1)
        add_seller(s, "b", 2)
        put_history(
            s, "a", days=90, day_row=lambda age: good_day(late_shipments=3 if age < 5 else 0)
        )
        put_history(s, "b", days=90, day_row=lambda age: good_day())
    mondays = [DAY - timedelta(weeks=w) for w in range(3, -1, -1)]
    with transaction(session_factory) as s:
        runs = [evaluate.evaluate_all(s, day=d, config=CFG, now=NOW) for d in mondays[:-1]]
        tuesday = evaluate.evaluate_all(s, day=DAY - timedelta(days=6), config=CFG, now=NOW)
        run = evaluate.evaluate_all(s, day=DAY, config=CFG, now=NOW)
        evaluate.evaluate_all(s, day=DAY, config=CFG, now=NOW)  # a re-run replaces its rows
    assert tuesday.kinds == ["daily"] and run.kinds == ["daily", "weekly"]
    # the first evaluation gave the weekly points before it from the 90 days of stored metrics
    first_day = DAY - timedelta(days=89)
    past = runs[0].backfilled
    assert past == [d for d in (mondays[0] - timedelta(weeks=w) for w in range(12, 0, -1))
                    if d >= first_day]  # fmt: skip
    assert len(past) == 9 and not any(r.backfilled for r in [*runs[1:], tuesday, run])
    with session_factory() as s:
        weekly = evaluate.history(s, seller_id="a", limit=20)
        assert [e.day for e in weekly] == past + mondays
        assert s.scalar(select(func.count()).select_from(PerfEvaluation)) == 2 * (
            4 * 2 + 1 + len(past)
        )
        latest = evaluate.latest(s, seller_id="a")
        assert latest is not None and latest.day == DAY
        movers = evaluate.movers(s, seller_ids=["a", "b"], day=DAY)
    assert movers[0][0] == "a" and movers[0][1] < 0
    assert ("b", 0.0) in movers
    assert {"seller_id": "a", "from": "top", "to": weekly[-1].segment} in run.changed


def test_the_first_evaluation_gives_the_weekly_history_charts_and_trends_need(
    session_factory: sessionmaker[Session],
) -> None:
    """The operator's path (`metrics import` then `perf evaluate` once): the weekly points
    of the last 12 weeks exist at once, the same as the nightly runs would have stored."""
    with transaction(session_factory) as s:
        add_seller(s, "a")
        put_history(s, "a", days=120, day_row=lambda age: good_day(late_shipments=age % 4))
    with transaction(session_factory) as s:
        run = evaluate.evaluate_all(s, day=DAY, config=CFG, now=NOW)
        again = evaluate.evaluate_all(s, day=DAY + timedelta(days=1), config=CFG, now=NOW)
    past = [DAY - timedelta(weeks=w) for w in range(11, 0, -1)]  # DAY is the weekly day
    assert run.backfilled == past and again.backfilled == []
    assert run.to_json()["backfilled"] == [d.isoformat() for d in past]
    with transaction(session_factory) as s:
        one_by_one = {d: evaluate.compute(s, days=[d], config=CFG)[d][0] for d in past}
    with session_factory() as s:
        assert [e.day for e in evaluate.history(s, seller_id="a", limit=20)] == [*past, DAY]
        for d in past:
            stored = evaluate.get(s, seller_id="a", day=d, kind="weekly")
            assert stored is not None
            assert stored.to_json() == {**one_by_one[d].to_json(), "kind": "weekly"}
    # every weekly point of the window is stored now: nothing left to fill
    with transaction(session_factory) as s:
        assert evaluate.missing_weekly_days(s, day=DAY, config=CFG) == []


def test_backfill_matches_day_by_day(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        add_seller(s, "a")
        put_history(s, "a", days=80, day_row=lambda age: good_day(late_shipments=age % 3))
    mondays = [DAY - timedelta(weeks=w) for w in range(3)]
    with transaction(session_factory) as s:
        runs = evaluate.backfill_weekly(s, days=mondays, config=CFG, now=NOW)
        one_by_one = {d: evaluate.compute(s, days=[d], config=CFG)[d][0] for d in mondays}
    assert len(runs) == 3
    with session_factory() as s:
        for d in mondays:
            stored = evaluate.get(s, seller_id="a", day=d, kind="weekly")
            assert stored is not None
            assert stored.to_json() == {**one_by_one[d].to_json(), "kind": "weekly"}
