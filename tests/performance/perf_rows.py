"""Sellers and evaluation rows written straight into the tables (the contract's shapes), so
nudge and digest tests do not depend on the evaluation engine's arithmetic."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from routing.models import PerfEvaluation, Seller

HEALTHY = {
    "acceptance_delay": 8.0,
    "acceptance_rate": 99.0,
    "cancellation_rate": 0.4,
    "late_shipment_rate": 1.5,
    "valid_tracking_rate": 99.2,
    "response_time": 6.0,
    "incident_rate": 0.8,
    "rating": 4.7,
}


def add_seller(
    session: Session,
    seller_id: str,
    *,
    name: str,
    language: str = "fr",
    am: str | None = "U0AMALICE",
    opt_out: bool = False,
) -> Seller:
    seller = Seller(
        seller_id=seller_id,
        name=name,
        channel_id=f"C0{seller_id.upper()}",
        account_manager_id=am,
        tier="standard",
        language=language,
        nudges_opt_out=opt_out,
    )
    session.add(seller)
    session.flush()
    return seller


def add_evaluation(
    session: Session,
    seller_id: str,
    *,
    day: date,
    kind: str = "daily",
    score: float | None = 90.0,
    segment: str = "healthy",
    values: dict[str, Any] | None = None,
    alerts: list[str] | None = None,
    limits: list[str] | None = None,
    delta: float | None = 0.0,
    drops: int = 0,
    declining: bool = False,
    projection: dict[str, Any] | None = None,
) -> PerfEvaluation:
    row = PerfEvaluation(
        seller_id=seller_id,
        day=day,
        kind=kind,
        orders=120,
        values={**HEALTHY, **(values or {})},
        alerts=alerts or [],
        limits=limits or [],
        score=score,
        segment=segment,
        trend={
            "score_delta_week": delta,
            "weekly_drops_in_a_row": drops,
            "declining": declining,
            "reasons": [],
        },
        projection=projection or {"segment": segment, "score": score, "metrics": {}},
    )
    session.add(row)
    session.flush()
    return row


def weekly_history(
    session: Session, seller_id: str, *, until: date, scores: list[float], segment: str = "watch"
) -> None:
    """Weekly rows ending at `until`, oldest first."""
    for i, score in enumerate(scores):
        day = until - timedelta(weeks=len(scores) - 1 - i)
        add_evaluation(session, seller_id, day=day, kind="weekly", score=score, segment=segment)
