"""Building small, hand-checkable metrics histories for the performance tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from routing.models import Seller
from routing.performance.metrics_import import import_metrics_rows

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)  # a Monday: the weekly evaluation day by default


def good_day(**over: Any) -> dict[str, Any]:
    """10 orders, every metric at or better than its "good" anchor; override any column."""
    row: dict[str, Any] = {
        "orders": 10,
        "accepted_orders": 10,
        "acceptance_delay_hours": 4.0,
        "seller_cancellations": 0,
        "shipments": 10,
        "late_shipments": 0,
        "shipments_with_tracking": 10,
        "customer_messages": 2,
        "response_hours": 3.0,
        "incidents": 0,
        "ratings_count": 5,
        "rating_mean": 4.9,
    }
    row.update(over)
    return row


def add_seller(session: Session, seller_id: str, n: int = 1) -> None:
    session.add(
        Seller(
            seller_id=seller_id,
            name=f"Seller {seller_id}",
            channel_id=f"C0TEST{n:04d}",
            account_manager_id="U0AM0001",
            tier="gold",
            language="fr",
        )
    )
    session.flush()


def put_history(
    session: Session,
    seller_id: str,
    *,
    days: int,
    day_row: Callable[[int], dict[str, Any]],
    end: date = DAY,
) -> None:
    """`days` days ending on `end`; day_row(age) gives the row for the day `age` days before end."""
    rows = []
    for age in range(days - 1, -1, -1):
        d = end - timedelta(days=age)
        rows.append(
            (len(rows) + 2, {"seller_id": seller_id, "date": d.isoformat(), **day_row(age)})
        )
    report = import_metrics_rows(session, rows=rows, now=NOW)
    assert report.errors == []
