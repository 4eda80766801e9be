"""Daily seller metrics in: from the operator's CSV export or straight from their warehouse.

One row per seller and day. A day imported again replaces the stored one (upsert on
(seller_id, day)), so a corrected export can simply be re-run. A bad row is reported with its
line and the good rows still go in. The source is read, checked and written BATCH rows at a
time (routing.csv_stream for files), so memory does not grow with its size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Table, delete, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from routing.csv_stream import CsvFileError, CsvSource, LineError, RejectingReport, SeenKeys
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
BATCH = 5000  # rows checked (numpy) and written (one bulk statement) together


class MetricsFileError(CsvFileError):
    """The source as a whole cannot be read as metrics (not a row problem)."""


@dataclass
class ImportReport(RejectingReport):
    imported: int = 0
    sellers: int = 0
    first_day: date | None = None
    last_day: date | None = None
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.imported / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "rejected": self.rejected,
            "sellers": self.sellers,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
            "errors": self.errors,
            "errors_not_listed": self.rejected - len(self.errors),
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


def open_metrics_csv(path: Path) -> CsvSource:
    """The file, header checked, rows read one at a time (see routing.csv_stream)."""
    return CsvSource(path, required=COLUMNS, error=MetricsFileError)


Progress = Callable[[ImportReport, int], None]  # (report so far, bytes or rows read)


def import_metrics_csv(
    session: Session,
    *,
    path: Path,
    now: datetime,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> ImportReport:
    with open_metrics_csv(path) as source:
        tick = None if progress is None else (lambda r: progress(r, source.bytes_read))
        return import_metrics_rows(session, rows=source, now=now, progress=tick, batch=batch)


def import_metrics_sql(
    session: Session,
    *,
    url: str,
    query: str,
    now: datetime,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> ImportReport:
    """Run `query` on any SQLAlchemy database; it must return the CSV's columns (by name).
    Errors name the result row (1 = the first row returned). The result is streamed (a
    server-side cursor where the driver has one), `batch` rows at a time."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            try:
                result = conn.execution_options(stream_results=True, yield_per=batch).execute(
                    text(query)
                )
            except Exception as exc:
                raise MetricsFileError(
                    f"the query failed: {exc.__class__.__name__}: {exc}"
                ) from exc
            missing = [c for c in COLUMNS if c not in result.keys()]  # noqa: SIM118 (a Result is no dict)
            if missing:
                raise MetricsFileError(f"the query does not return column(s) {', '.join(missing)}")
            rows = ((i, dict(m)) for i, m in enumerate(result.mappings(), start=1))
            # every row read is by then imported or rejected
            tick = None if progress is None else (lambda r: progress(r, r.imported + r.rejected))
            return import_metrics_rows(session, rows=rows, now=now, progress=tick, batch=batch)
    finally:
        engine.dispose()


def import_metrics_rows(
    session: Session,
    *,
    rows: Iterable[tuple[int, Mapping[str, Any] | LineError]],
    now: datetime,
    progress: Callable[[ImportReport], None] | None = None,
    batch: int = BATCH,
) -> ImportReport:
    """Check and upsert rows `batch` at a time, so memory holds one batch whatever the
    source's size. Checks run on the batch with numpy; only the rows they flag are checked
    one by one (to word the error)."""
    started = time.perf_counter()
    state = _Import(session, now=now, report=ImportReport())
    pending: list[tuple[int, Mapping[str, Any] | LineError]] = []
    for item in rows:
        pending.append(item)
        if len(pending) >= batch:
            state.batch(pending)
            pending = []
            if progress is not None:
                progress(state.report)
    state.batch(pending)
    state.report.seconds = time.perf_counter() - started
    if progress is not None:
        progress(state.report)
    return state.report


class _Import:
    """What one import carries from batch to batch: a few bytes a row at most."""

    def __init__(self, session: Session, *, now: datetime, report: ImportReport) -> None:
        self.session = session
        self.now = now
        self.today = now.date()
        self.stamp = now.astimezone(UTC).replace(tzinfo=None)
        self.report = report
        self.days = SeenKeys()  # (seller, day) of earlier batches: "given twice in one file"
        self.sellers = SeenKeys()  # for the report's count of distinct sellers

    def batch(self, rows: list[tuple[int, Mapping[str, Any] | LineError]]) -> None:
        errors: list[tuple[int, str]] = []
        checked = self._checked(rows, errors)
        known = self._known({c[1][0] for c in checked})
        earlier = self.days.first_lines(
            SeenKeys.fingerprints((c[1][0], c[1][1]) for c in checked)
        ).tolist()
        given: dict[tuple[str, str], int] = {}
        good: list[tuple[Any, ...]] = []
        for (line, stored), first in zip(checked, earlier, strict=True):
            sid, day = stored[0], stored[1]
            if sid not in known:
                errors.append((line, f"unknown seller {sid!r} (not in the directory)"))
                continue
            first = first or given.get((sid, day), 0)
            if first:
                errors.append((line, f"seller {sid!r} on {day} already given on line {first}"))
                continue
            given[(sid, day)] = line
            good.append(stored)
        for line, error in sorted(errors):
            self.report.rejections.add(line, error)
        if not good:
            return
        self._write(good)
        self.days.add(SeenKeys.fingerprints(given), list(given.values()))
        sellers = np.unique(SeenKeys.fingerprints({r[0] for r in good}))
        new = sellers[self.sellers.first_lines(sellers) == 0]
        self.sellers.add(new, np.ones(len(new), dtype=np.int64))
        report = self.report
        report.imported += len(good)
        report.sellers += len(new)
        first_day = date.fromisoformat(min(r[1] for r in good))
        last_day = date.fromisoformat(max(r[1] for r in good))
        report.first_day = min(report.first_day or first_day, first_day)
        report.last_day = max(report.last_day or last_day, last_day)

    def _checked(
        self, rows: list[tuple[int, Mapping[str, Any] | LineError]], errors: list[tuple[int, str]]
    ) -> list[tuple[int, tuple[Any, ...]]]:
        """(line, stored values) of the rows that pass the row checks; the others in errors."""
        records: list[tuple[int, Mapping[str, Any]]] = []
        for line, row in rows:
            if isinstance(row, LineError):
                errors.append((line, row.error))
            else:
                records.append((line, row))
        if not records:
            return []
        today, stamp = self.today, self.stamp
        suspect, sids, days, cols = metrics_bulk.vector_check([r for _, r in records], today=today)
        counts = [np.nan_to_num(cols[c]).astype(np.int64).tolist() for c in COUNTS]
        means = [[None if x != x else x for x in cols[c].tolist()] for c in MEANS]
        fast = list(zip(sids, days, *counts, *means, repeat(stamp, len(records)), strict=True))
        checked: list[tuple[int, tuple[Any, ...]]] = []
        for flagged, (line, row), stored in zip(suspect.tolist(), records, fast, strict=True):
            if flagged:
                try:
                    values = check_metrics_row(row, today=today)  # words the error, or accepts
                except ValueError as exc:
                    errors.append((line, str(exc)))
                    continue
                stored = (
                    values["seller_id"], values["day"].isoformat(),
                    *(values[c] for c in COUNTS), *(values[c] for c in MEANS), stamp,
                )  # fmt: skip
            checked.append((line, stored))
        return checked

    def _known(self, sids: set[str]) -> set[str]:
        """Which of these seller ids the directory has (asked per batch, not all kept)."""
        wanted = sorted(sids)
        known: set[str] = set()
        for i in range(0, len(wanted), 1000):
            query = select(Seller.seller_id).where(Seller.seller_id.in_(wanted[i : i + 1000]))
            known.update(self.session.scalars(query))
        return known

    def _write(self, good: list[tuple[Any, ...]]) -> None:
        if metrics_bulk.write_rows(self.session, good):
            return
        batch = [dict(zip(metrics_bulk.STORED, r, strict=True)) for r in good]
        for b in batch:
            b["day"] = date.fromisoformat(b["day"])
            b["imported_at"] = self.now
        _upsert(self.session, batch)


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
