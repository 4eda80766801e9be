"""Daily seller metrics in: from the operator's CSV export or straight from their warehouse.

One row per seller and day. A day imported again replaces the stored one (upsert on
(seller_id, day)), so a corrected export can simply be re-run. A bad row is reported with its
line and the good rows still go in.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Table, delete, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from routing.db import make_engine
from routing.models import MetricsDaily, Seller
from routing.performance import metrics_bulk

COUNTS = metrics_bulk.COUNTS
MEANS = tuple(metrics_bulk.MEANS)  # acceptance_delay_hours, response_hours, rating_mean
COLUMNS = (
    "seller_id",
    "date",
    "orders",
    "accepted_orders",
    "acceptance_delay_hours",
    "seller_cancellations",
    "shipments",
    "late_shipments",
    "shipments_with_tracking",
    "customer_messages",
    "response_hours",
    "incidents",
    "ratings_count",
    "rating_mean",
)
# part of a count that can never exceed its whole (a rate over 100 % is a broken export)
_PARTS = (
    ("accepted_orders", "orders"),
    ("seller_cancellations", "orders"),
    ("late_shipments", "shipments"),
    ("shipments_with_tracking", "shipments"),
)
# each mean and the count it is a mean of: required when that count is positive
_MEAN_OF = {
    "acceptance_delay_hours": "accepted_orders",
    "response_hours": "customer_messages",
    "rating_mean": "ratings_count",
}
BATCH = 5000
CHUNK = 50_000


class MetricsFileError(ValueError):
    """The source as a whole cannot be read as metrics (not a row problem)."""


@dataclass
class ImportReport:
    imported: int = 0
    sellers: int = 0
    first_day: date | None = None
    last_day: date | None = None
    seconds: float = 0.0
    errors: list[dict[str, object]] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.imported / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "rejected": len(self.errors),
            "sellers": self.sellers,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
            "errors": self.errors,
        }


def check_metrics_row(row: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """One row as stored values; raise ValueError with a sentence a person can act on."""
    sid = str(row.get("seller_id") or "").strip()
    if not sid:
        raise ValueError("seller_id is empty")
    raw_day = row.get("date")
    if isinstance(raw_day, datetime):
        day = raw_day.date()
    elif isinstance(raw_day, date):
        day = raw_day
    else:
        try:
            day = date.fromisoformat(str(raw_day or "").strip())
        except ValueError:
            raise ValueError(f"date {raw_day!r} is not a date (YYYY-MM-DD)") from None
    if day > today:
        raise ValueError(f"date {day.isoformat()} is in the future")
    values: dict[str, Any] = {"seller_id": sid, "day": day}
    for name in COUNTS:
        values[name] = _count(row.get(name), name)
    for part, whole in _PARTS:
        if values[part] > values[whole]:
            raise ValueError(
                f"{part} ({values[part]}) is more than {whole} ({values[whole]}): a rate over 100 %"
            )
    for name, of in _MEAN_OF.items():
        value = _mean(row.get(name), name)
        if value is None and values[of] > 0:
            raise ValueError(f"{name} is empty but {of} is {values[of]}")
        if value is not None and values[of] == 0:
            value = None  # a mean of nothing: kept empty, so it weighs nothing in a window
        values[name] = value
    rating = values["rating_mean"]
    if rating is not None and not 1.0 <= rating <= 5.0:
        raise ValueError(f"rating_mean {rating:g} is outside 1-5")
    return values


def _count(raw: Any, name: str) -> int:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValueError(f"{name} is empty")
    if isinstance(raw, bool):
        raise ValueError(f"{name} {raw!r} is not a whole number")
    if isinstance(raw, int):
        value = raw
    else:
        try:
            number = float(str(raw).strip())
        except ValueError:
            raise ValueError(f"{name} {raw!r} is not a whole number") from None
        if not number.is_integer():
            raise ValueError(f"{name} {raw!r} is not a whole number")
        value = int(number)
    if value < 0:
        raise ValueError(f"{name} {value} is negative")
    return value


def _mean(raw: Any, name: str) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {raw!r} is not a number") from None
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} {raw!r} is not a number")
    if value < 0:
        raise ValueError(f"{name} {value:g} is negative")
    return value


def read_metrics_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) pairs; the header is line 1, as a person counts in an editor."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise MetricsFileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetricsFileError(f"{path}: not UTF-8 text") from exc
    reader = csv.reader(io.StringIO(content))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise MetricsFileError(f"{path}: missing column(s) {', '.join(missing)}")
    width = len(header)
    return _csv_rows(reader, header, width)


def _csv_rows(reader: Any, header: list[str], width: int) -> Iterator[tuple[int, dict[str, str]]]:
    for fields in reader:
        line = reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) != width:
            yield line, {"__error__": f"{len(fields)} fields where the header has {width}"}
            continue
        yield line, dict(zip(header, fields, strict=True))


def import_metrics_csv(session: Session, *, path: Path, now: datetime) -> ImportReport:
    return import_metrics_rows(session, rows=read_metrics_csv(path), now=now)


def import_metrics_sql(session: Session, *, url: str, query: str, now: datetime) -> ImportReport:
    """Run `query` on any SQLAlchemy database; it must return the CSV's columns (by name).
    Errors name the result row (1 = the first row returned)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            try:
                result = conn.execute(text(query))
            except Exception as exc:
                raise MetricsFileError(
                    f"the query failed: {exc.__class__.__name__}: {exc}"
                ) from exc
            missing = [c for c in COLUMNS if c not in result.keys()]  # noqa: SIM118 (a Result is no dict)
            if missing:
                raise MetricsFileError(f"the query does not return column(s) {', '.join(missing)}")
            rows = ((i, dict(m)) for i, m in enumerate(result.mappings(), start=1))
            return import_metrics_rows(session, rows=rows, now=now)
    finally:
        engine.dispose()


def import_metrics_rows(
    session: Session, *, rows: Iterable[tuple[int, Mapping[str, Any]]], now: datetime
) -> ImportReport:
    """Check every row, then upsert the good ones. Checks run on chunks of rows with numpy;
    only the rows they flag are checked one by one (to word the error)."""
    started = time.perf_counter()
    report = ImportReport()
    known = set(session.scalars(select(Seller.seller_id)))
    today = now.date()
    seen: dict[tuple[str, str], int] = {}
    good: list[tuple[Any, ...]] = []
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    chunk: list[tuple[int, Mapping[str, Any]]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            _check_chunk(chunk, known, today, seen, stamp, good, report)
            chunk = []
    _check_chunk(chunk, known, today, seen, stamp, good, report)
    if not metrics_bulk.write_rows(session, good):
        for i in range(0, len(good), BATCH):
            batch = [dict(zip(metrics_bulk.STORED, r, strict=True)) for r in good[i : i + BATCH]]
            for b in batch:
                b["day"] = date.fromisoformat(b["day"])
                b["imported_at"] = now
            _upsert(session, batch)
    report.imported = len(good)
    report.sellers = len({r[0] for r in good})
    if good:
        report.first_day = date.fromisoformat(min(r[1] for r in good))
        report.last_day = date.fromisoformat(max(r[1] for r in good))
    report.errors.sort(key=lambda e: int(str(e["line"])))
    report.seconds = time.perf_counter() - started
    return report


def _check_chunk(
    chunk: list[tuple[int, Mapping[str, Any]]],
    known: set[str],
    today: date,
    seen: dict[tuple[str, str], int],
    stamp: datetime,
    good: list[tuple[Any, ...]],
    report: ImportReport,
) -> None:
    if not chunk:
        return
    records = [r for _, r in chunk]
    suspect, sids, days, cols = metrics_bulk.vector_check(records, today=today)
    counts = [np.nan_to_num(cols[c]).astype(np.int64).tolist() for c in COUNTS]
    means = [[None if x != x else x for x in cols[c].tolist()] for c in MEANS]
    fast = list(zip(sids, days, *counts, *means, repeat(stamp, len(chunk)), strict=True))
    flagged = suspect.tolist()
    for i, (line, row) in enumerate(chunk):
        try:
            if flagged[i] or "__error__" in row:
                if "__error__" in row:
                    raise ValueError(str(row["__error__"]))
                values = check_metrics_row(row, today=today)  # words the error, or accepts
                sid, day = values["seller_id"], values["day"].isoformat()
                stored = (
                    sid, day, *(values[c] for c in COUNTS), *(values[c] for c in MEANS), stamp
                )  # fmt: skip
            else:
                stored = fast[i]
                sid, day = sids[i], days[i]
            if sid not in known:
                raise ValueError(f"unknown seller {sid!r} (not in the directory)")
            first = seen.get((sid, day))
            if first is not None:
                raise ValueError(f"seller {sid!r} on {day} already given on line {first}")
        except ValueError as exc:
            report.errors.append({"line": line, "error": str(exc)})
            continue
        seen[(sid, day)] = line
        good.append(stored)


_VALUE_COLUMNS = (*COUNTS, *MEANS, "imported_at")


def _upsert(session: Session, batch: list[dict[str, Any]]) -> None:
    """Insert or replace each (seller_id, day): ON CONFLICT where the dialect has it."""
    table = MetricsDaily.__table__
    assert isinstance(table, Table)
    name = session.get_bind().dialect.name
    if name in ("sqlite", "postgresql"):
        ins = sqlite.insert(table) if name == "sqlite" else postgresql.insert(table)
        stmt = ins.on_conflict_do_update(
            index_elements=["seller_id", "day"],
            set_={c: getattr(ins.excluded, c) for c in _VALUE_COLUMNS},
        )
        session.execute(stmt, batch)
        return
    keys = [(v["seller_id"], v["day"]) for v in batch]
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        session.execute(delete(table).where(tuple_(table.c.seller_id, table.c.day).in_(chunk)))
    session.execute(table.insert(), batch)
