"""Daily evaluation of every seller, weekly evaluations kept as history, and the queries
others read them with (latest, history, show, movers).

One read of metrics_daily per run fills a (sellers × days × sums) numpy array; every window,
score, trend and projection is computed on it at once, never seller by seller.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Date, Table, bindparam, delete, func, select, text
from sqlalchemy.orm import Session

from routing.models import PerfEvaluation, Seller
from routing.performance import scoring
from routing.performance.config import METRICS, PerfConfig
from routing.performance.scoring import AT_RISK, EXIT, SEGMENTS, SUM_COLUMNS

# per-day sums; means are carried as value x count so a window can weight them
_SUMS = """
    SUM(orders), SUM(accepted_orders), SUM(COALESCE(acceptance_delay_hours * accepted_orders, 0)),
    SUM(seller_cancellations), SUM(shipments), SUM(late_shipments), SUM(shipments_with_tracking),
    SUM(customer_messages), SUM(COALESCE(response_hours * customer_messages, 0)),
    SUM(incidents), SUM(ratings_count), SUM(COALESCE(rating_mean * ratings_count, 0))
"""


@dataclass(frozen=True)
class Evaluation:
    seller_id: str
    day: date
    kind: str
    orders: int
    values: dict[str, float | None]
    alerts: list[str]
    limits: list[str]
    score: float | None
    segment: str
    trend: dict[str, Any]
    projection: dict[str, Any]

    @classmethod
    def from_row(cls, row: PerfEvaluation) -> Evaluation:
        return cls(
            seller_id=row.seller_id,
            day=row.day,
            kind=row.kind,
            orders=row.orders,
            values=dict(row.values),
            alerts=list(row.alerts),
            limits=list(row.limits),
            score=row.score,
            segment=row.segment,
            trend=dict(row.trend),
            projection=dict(row.projection),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seller_id": self.seller_id,
            "day": self.day.isoformat(),
            "kind": self.kind,
            "orders": self.orders,
            "values": self.values,
            "alerts": self.alerts,
            "limits": self.limits,
            "score": self.score,
            "segment": self.segment,
            "trend": self.trend,
            "projection": self.projection,
        }


@dataclass
class EvaluationRun:
    day: date
    kinds: list[str]
    sellers: int
    segments: dict[str, int]
    changed: list[dict[str, str | None]]  # {seller_id, from, to} against the previous daily run
    decliners: list[str]
    seconds: float = 0.0
    evaluations: list[Evaluation] = field(default_factory=list, repr=False)
    # past weekly points this run evaluated from stored metrics (see missing_weekly_days)
    backfilled: list[date] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "kinds": self.kinds,
            "backfilled": [d.isoformat() for d in self.backfilled],
            "sellers": self.sellers,
            "segments": self.segments,
            "changed": self.changed,
            "decliners": self.decliners,
            "seconds": round(self.seconds, 3),
        }


def is_weekly_day(day: date, config: PerfConfig) -> bool:
    return day.weekday() == config.weekly_weekday


# How far back the weekly history goes: what the digest's chart draws, and at least what the
# trend, the exit review and the projection read (PerfConfig.weeks_needed).
HISTORY_WEEKS = 12


def missing_weekly_days(session: Session, *, day: date, config: PerfConfig) -> list[date]:
    """The weekly points of the last HISTORY_WEEKS weeks before `day` that have metrics
    stored but no weekly evaluation: on an operator's first `perf evaluate` after importing
    months of metrics, all of them, so that trends and charts have their history at once
    (only the nightly job's own weekly runs would otherwise build it, a week at a time)."""
    weeks = max(HISTORY_WEEKS, config.weeks_needed)
    last = day - timedelta(days=(day.weekday() - config.weekly_weekday) % 7 or 7)
    since = day - timedelta(weeks=weeks)
    wanted = [d for d in (last - timedelta(weeks=w) for w in range(weeks)) if d > since]
    have = set(
        session.scalars(
            select(PerfEvaluation.day)
            .where(PerfEvaluation.kind == "weekly", PerfEvaluation.day.in_(wanted))
            .distinct()
        )
    )
    missing = [d for d in wanted if d not in have]
    first = _metrics_day(session, func.min) if missing else None  # read only when needed
    if first is None:
        return []
    return sorted(d for d in missing if d >= first)


def compute(
    session: Session,
    *,
    days: Sequence[date],
    config: PerfConfig,
    seller_ids: Sequence[str] | None = None,
) -> dict[date, list[Evaluation]]:
    """Evaluate sellers (all of the directory by default) on each of `days`, without storing.
    Metrics are read once for all the days."""
    if not days:
        return {}
    ids = (
        list(seller_ids)
        if seller_ids is not None
        else list(session.scalars(select(Seller.seller_id).order_by(Seller.seller_id)))
    )
    k = config.weeks_needed
    span = timedelta(days=config.window_days - 1)
    points = {day: [day - timedelta(days=7 * j) for j in range(k)] for day in days}
    ends = sorted({p for ps in points.values() for p in ps})
    sums = _window_sums(session, ids, [(e - span, e) for e in ends])
    column = {e: i for i, e in enumerate(ends)}
    return {
        day: _evaluate_arrays(ids, day, sums[:, [column[p] for p in ps], :], config)
        for day, ps in points.items()
    }


def _window_sums(session: Session, ids: list[str], windows: list[tuple[date, date]]) -> np.ndarray:
    """(S, len(windows), C) sums over each [first, last] window of days.

    The database sums the days between consecutive window edges (a few buckets per seller
    instead of every day), numpy adds the buckets of each window. A missing row is a day
    without activity."""
    out = np.zeros((len(ids), len(windows), len(SUM_COLUMNS)), dtype=np.float64)
    if not ids or not windows:
        return out
    edges = sorted({a for a, _ in windows} | {b + timedelta(days=1) for _, b in windows})
    n_buckets = len(edges) - 1
    case = _bucket_case(1, n_buckets)
    query = text(
        f"SELECT seller_id, {case} AS bucket, {_SUMS} FROM metrics_daily "
        f"WHERE day >= :e0 AND day < :e{n_buckets} GROUP BY seller_id, bucket"
    ).bindparams(*(bindparam(f"e{i}", type_=Date()) for i in range(len(edges))))
    rows = session.execute(query, {f"e{i}": e for i, e in enumerate(edges)}).all()
    index = {sid: i for i, sid in enumerate(ids)}
    keep = [r for r in rows if r[0] in index]
    buckets = np.zeros((len(ids), n_buckets + 1, len(SUM_COLUMNS)), dtype=np.float64)
    if keep:
        si = np.fromiter((index[r[0]] for r in keep), dtype=np.int64, count=len(keep))
        bi = np.fromiter((r[1] for r in keep), dtype=np.int64, count=len(keep))
        vals = np.array([r[2:] for r in keep], dtype=np.float64)
        buckets[si, bi + 1] = vals.reshape(len(keep), len(SUM_COLUMNS))
    cs = np.cumsum(buckets, axis=1)  # cs[:, b] = sum of the buckets before edge b
    at = {e: i for i, e in enumerate(edges)}
    for w, (a, b) in enumerate(windows):
        out[:, w, :] = cs[:, at[b + timedelta(days=1)]] - cs[:, at[a]]
    return out


def _bucket_case(lo: int, hi: int) -> str:
    """SQL giving the bucket (edge index - 1) of `day`, known to be in [edge lo-1, edge hi):
    a binary search of nested CASEs, so a long back-fill costs a few comparisons a row."""
    if lo == hi:
        return str(lo - 1)
    mid = (lo + hi) // 2
    return f"(CASE WHEN day < :e{mid} THEN {_bucket_case(lo, mid)} ELSE {_bucket_case(mid + 1, hi)} END)"


def _evaluate_arrays(
    ids: list[str], day: date, sums: np.ndarray, config: PerfConfig
) -> list[Evaluation]:
    """sums: (S, K, C) window sums at now, a week ago, … ."""
    st = scoring.stand(sums, config)
    segment_now = scoring.with_exit_review(st.segments, config.exit_review_weeks)
    tr = scoring.trend(st.scores, config)
    projected, proj = scoring.project(st, config)
    proj_segment = proj.segments[:, 0].copy()
    # projected exit review: at risk next week and at each of the weekly points before it
    earlier = st.segments[:, : config.exit_review_weeks - 1]
    earlier_at_risk = ((earlier == AT_RISK) | (earlier == EXIT)).all(axis=1)
    proj_segment[(proj_segment == AT_RISK) & earlier_at_risk] = EXIT

    values = np.round(st.values[:, 0, :], 3).tolist()
    pvalues = np.round(projected, 3).tolist()
    scores = np.round(st.scores, 1)
    pscores = np.round(proj.scores[:, 0], 1)
    delta = np.round(tr.delta_week, 1)
    evaluations = []
    for i, sid in enumerate(ids):
        reasons = []
        if tr.weekly_drop[i]:
            reasons.append("weekly_drop")
        if tr.many_drops[i]:
            reasons.append("drops_in_a_row")
        evaluations.append(
            Evaluation(
                seller_id=sid,
                day=day,
                kind="daily",
                orders=int(st.orders[i, 0]),
                values=_metric_dict(values[i]),
                alerts=[m for j, m in enumerate(METRICS) if st.alerts[i, 0, j]],
                limits=[m for j, m in enumerate(METRICS) if st.limits[i, 0, j]],
                score=_num(scores[i, 0]),
                segment=SEGMENTS[segment_now[i]],
                trend={
                    "score_delta_week": _num(delta[i]),
                    "weekly_drops_in_a_row": int(tr.drops_in_a_row[i]),
                    "declining": bool(tr.declining[i]),
                    "reasons": reasons,
                    "weekly_scores": [_num(s) for s in scores[i, ::-1]],  # oldest first
                },
                projection={
                    "segment": SEGMENTS[proj_segment[i]],
                    "score": _num(pscores[i]),
                    "metrics": _metric_dict(pvalues[i]),
                    "weeks_ahead": config.projection_horizon_weeks,
                },
            )
        )
    return evaluations


def _num(x: Any) -> float | None:
    return None if np.isnan(x) else float(x)


def _metric_dict(row: list[float]) -> dict[str, float | None]:
    return dict(zip(METRICS, [None if v != v else v for v in row], strict=True))  # NaN: None


def evaluate_all(
    session: Session,
    *,
    day: date,
    config: PerfConfig,
    weekly: bool | None = None,
    now: datetime | None = None,
) -> EvaluationRun:
    """Evaluate every seller for `day` and store it: a "daily" row always, a "weekly" row too
    on the configured weekday (or when `weekly` says so). Running a day again replaces it."""
    started = time.perf_counter()
    backfilled = missing_weekly_days(session, day=day, config=config)
    if backfilled:
        backfill_weekly(session, days=backfilled, config=config, now=now)
    weekly = is_weekly_day(day, config) if weekly is None else weekly
    evaluations = compute(session, days=[day], config=config)[day]
    previous = _previous_segments(session, day=day)
    kinds = ["daily", "weekly"] if weekly else ["daily"]
    for kind in kinds:
        _store(session, day=day, kind=kind, evaluations=evaluations, now=now)
    session.execute(
        delete(PerfEvaluation).where(
            PerfEvaluation.kind == "daily",
            PerfEvaluation.day < day - timedelta(days=config.keep_daily_days),
        )
    )
    run = _summarise(day, kinds, evaluations, previous)
    run.backfilled = backfilled
    run.seconds = time.perf_counter() - started
    return run


def backfill_weekly(
    session: Session, *, days: Sequence[date], config: PerfConfig, now: datetime | None = None
) -> list[EvaluationRun]:
    """Store weekly evaluations (history) for several past days at once, one metrics read."""
    computed = compute(session, days=sorted(days), config=config)
    runs = []
    for day, evaluations in computed.items():
        started = time.perf_counter()
        _store(session, day=day, kind="weekly", evaluations=evaluations, now=now)
        run = _summarise(day, ["weekly"], evaluations, {})
        run.seconds = time.perf_counter() - started
        runs.append(run)
    return runs


def _store(
    session: Session, *, day: date, kind: str, evaluations: list[Evaluation], now: datetime | None
) -> None:
    session.execute(
        delete(PerfEvaluation).where(PerfEvaluation.day == day, PerfEvaluation.kind == kind)
    )
    created = now or datetime.now(UTC)
    rows = [{**e.to_json(), "day": day, "kind": kind, "created_at": created} for e in evaluations]
    table = PerfEvaluation.__table__
    assert isinstance(table, Table)
    for i in range(0, len(rows), 5000):
        session.execute(table.insert(), rows[i : i + 5000])


def _previous_segments(session: Session, *, day: date) -> dict[str, str]:
    prev_day = session.scalar(
        select(func.max(PerfEvaluation.day)).where(
            PerfEvaluation.kind == "daily", PerfEvaluation.day < day
        )
    )
    if prev_day is None:
        return {}
    rows = session.execute(
        select(PerfEvaluation.seller_id, PerfEvaluation.segment).where(
            PerfEvaluation.kind == "daily", PerfEvaluation.day == prev_day
        )
    )
    return {sid: seg for sid, seg in rows}


def _summarise(
    day: date, kinds: list[str], evaluations: list[Evaluation], previous: dict[str, str]
) -> EvaluationRun:
    counts = {s: 0 for s in SEGMENTS}
    changed: list[dict[str, str | None]] = []
    for e in evaluations:
        counts[e.segment] += 1
        before = previous.get(e.seller_id)
        if previous and before != e.segment:
            changed.append({"seller_id": e.seller_id, "from": before, "to": e.segment})
    decliners = [e.seller_id for e in evaluations if e.trend["declining"]]
    return EvaluationRun(day, kinds, len(evaluations), counts, changed, decliners, 0.0, evaluations)


# ---- reads --------------------------------------------------------------------------------


def latest(session: Session, *, seller_id: str, kind: str = "daily") -> Evaluation | None:
    row = session.scalar(
        select(PerfEvaluation)
        .where(PerfEvaluation.seller_id == seller_id, PerfEvaluation.kind == kind)
        .order_by(PerfEvaluation.day.desc())
        .limit(1)
    )
    return Evaluation.from_row(row) if row else None


def get(session: Session, *, seller_id: str, day: date, kind: str = "daily") -> Evaluation | None:
    row = session.scalar(
        select(PerfEvaluation).where(
            PerfEvaluation.seller_id == seller_id,
            PerfEvaluation.day == day,
            PerfEvaluation.kind == kind,
        )
    )
    return Evaluation.from_row(row) if row else None


def history(
    session: Session, *, seller_id: str, kind: str = "weekly", limit: int = 12
) -> list[Evaluation]:
    """The last `limit` evaluations of that kind, oldest first (ready for a chart)."""
    rows = session.scalars(
        select(PerfEvaluation)
        .where(PerfEvaluation.seller_id == seller_id, PerfEvaluation.kind == kind)
        .order_by(PerfEvaluation.day.desc())
        .limit(limit)
    )
    return [Evaluation.from_row(r) for r in reversed(list(rows))]


def movers(session: Session, *, seller_ids: Iterable[str], day: date) -> list[tuple[str, float]]:
    """Week-over-week score change of each seller's daily evaluation of `day`, biggest first."""
    ids = list(seller_ids)
    if not ids:
        return []
    rows = session.execute(
        select(PerfEvaluation.seller_id, PerfEvaluation.trend).where(
            PerfEvaluation.kind == "daily",
            PerfEvaluation.day == day,
            PerfEvaluation.seller_id.in_(ids),
        )
    )
    out = [
        (sid, float(t["score_delta_week"]))
        for sid, t in rows
        if t and t.get("score_delta_week") is not None
    ]
    return sorted(out, key=lambda x: (-abs(x[1]), x[0]))


def latest_metrics_day(session: Session) -> date | None:
    return _metrics_day(session, func.max)


def _metrics_day(session: Session, aggregate: Any) -> date | None:
    """`func.max` or `func.min` of the days with metrics stored; None when there are none."""
    from routing.models import MetricsDaily

    value = session.scalar(select(aggregate(MetricsDaily.day)))
    if isinstance(value, str):  # SQLite through an aggregate keeps the stored text
        return date.fromisoformat(value)
    return value  # type: ignore[no-any-return]


def show(session: Session, *, seller_id: str, config: PerfConfig, day: date | None = None) -> Any:
    """See routing.performance.show.show (kept here so callers find every read in one place)."""
    from routing.performance.show import show as _show

    return _show(session, seller_id=seller_id, day=day, config=config)
