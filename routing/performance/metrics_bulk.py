"""The fast path of the metrics import: checks run on whole columns with numpy, and rows are
written with the database's own bulk path (SQLite executemany, PostgreSQL COPY).

A row any vector check finds suspicious goes through `check_metrics_row`, the one place
that words an error, so the fast path can only accept rows the slow path would accept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

COUNTS = (
    "orders",
    "accepted_orders",
    "seller_cancellations",
    "shipments",
    "late_shipments",
    "shipments_with_tracking",
    "customer_messages",
    "incidents",
    "ratings_count",
)
MEANS = {  # a mean and the count it is a mean of
    "acceptance_delay_hours": "accepted_orders",
    "response_hours": "customer_messages",
    "rating_mean": "ratings_count",
}
PARTS = (
    ("accepted_orders", "orders"),
    ("seller_cancellations", "orders"),
    ("late_shipments", "shipments"),
    ("shipments_with_tracking", "shipments"),
)
STORED = ("seller_id", "day", *COUNTS, *MEANS, "imported_at")


def _floats(col: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Values and a "cannot be a finite number" mask."""
    try:
        v = np.array(col, dtype=np.float64)
    except (TypeError, ValueError):
        v = np.empty(len(col))
        for i, x in enumerate(col):
            try:
                v[i] = float(x)
            except (TypeError, ValueError):
                v[i] = np.nan
    return v, ~np.isfinite(v)


def vector_check(
    rows: Sequence[Mapping[str, Any]], *, today: date
) -> tuple[np.ndarray, list[str], list[str], dict[str, np.ndarray]]:
    """(suspect mask, seller ids, ISO days, numeric columns) for a chunk of rows."""
    n = len(rows)
    suspect = np.zeros(n, dtype=bool)
    sids = [str(r.get("seller_id") or "").strip() for r in rows]
    suspect |= np.array([not s for s in sids], dtype=bool)
    raw_days = [r.get("date") for r in rows]
    days = [
        d.isoformat() if isinstance(d, date) and not isinstance(d, datetime) else str(d).strip()
        for d in raw_days
    ]
    suspect |= np.array([len(d) != 10 for d in days], dtype=bool)
    try:
        parsed = np.array(days, dtype="datetime64[D]")
        suspect |= parsed > np.datetime64(today, "D")
    except ValueError:
        for i, d in enumerate(days):
            try:
                if date.fromisoformat(d) > today:
                    suspect[i] = True
            except ValueError:
                suspect[i] = True
    cols: dict[str, np.ndarray] = {}
    for name in COUNTS:
        v, bad = _floats([r.get(name) for r in rows])
        with np.errstate(invalid="ignore"):
            suspect |= bad | (v < 0) | (v != np.floor(v))
        cols[name] = v
    for part, whole in PARTS:
        with np.errstate(invalid="ignore"):
            suspect |= cols[part] > cols[whole]
    for name, of in MEANS.items():
        raw = [r.get(name) for r in rows]
        empty = np.array(
            [x is None or (isinstance(x, str) and not x.strip()) for x in raw], dtype=bool
        )
        v, bad = _floats([None if e else x for x, e in zip(raw, empty, strict=True)])
        with np.errstate(invalid="ignore"):
            suspect |= (bad & ~empty) | (v < 0) | (empty & (cols[of] > 0))
        v[cols[of] == 0] = np.nan  # a mean of nothing weighs nothing
        cols[name] = v
    with np.errstate(invalid="ignore"):
        r = cols["rating_mean"]
        suspect |= ~np.isnan(r) & ((r < 1) | (r > 5))
    return suspect, sids, days, cols


def _sqlite_datetime(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC), so reads round-trip."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def write_rows(session: Session, rows: list[tuple[Any, ...]]) -> bool:
    """Upsert rows shaped like STORED (day as ISO text, imported_at naive UTC) with the
    dialect's bulk path; False when the dialect has none (the caller falls back)."""
    if not rows:
        return True
    name = session.get_bind().dialect.name
    columns = ", ".join(STORED)
    updates = ", ".join(f"{c} = excluded.{c}" for c in STORED[2:])
    if name == "sqlite":
        conn = session.connection()
        marks = ", ".join("?" for _ in STORED)
        sql = (
            f"INSERT INTO metrics_daily ({columns}) VALUES ({marks}) "
            f"ON CONFLICT (seller_id, day) DO UPDATE SET {updates}"
        )
        stamp = _sqlite_datetime(rows[0][-1])
        conn.exec_driver_sql(sql, [(*r[:-1], stamp) for r in rows])
        return True
    if name == "postgresql" and session.get_bind().dialect.driver == "psycopg":
        psycopg_conn: Any = session.connection().connection.driver_connection
        with psycopg_conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS metrics_daily_load "
                "(LIKE metrics_daily INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            cur.execute("TRUNCATE metrics_daily_load")
            with cur.copy(f"COPY metrics_daily_load ({columns}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            cur.execute(
                f"INSERT INTO metrics_daily ({columns}) SELECT {columns} FROM metrics_daily_load "
                f"ON CONFLICT (seller_id, day) DO UPDATE SET {updates}"
            )
        return True
    return False
