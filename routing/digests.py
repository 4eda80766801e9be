"""The account manager's daily digest: their own sellers only, and a chart of who needs them.

Every query here is filtered by the manager's seller ids first (`Seller.account_manager_id`),
so a digest cannot show a seller of another portfolio. `build_digest` only reads; the bot
renders, posts and records it (`do_record_digest`, one a day per manager).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing import models

if TYPE_CHECKING:
    from routing.charts import Chart
from routing.db import add_if_new
from routing.models import PerfEvaluation, Seller, SlaClock, Staff, Ticket
from routing.performance.config import PerfConfig
from routing.performance.evaluate import HISTORY_WEEKS
from routing.sla_clocks import ACTIVE
from routing.tickets import list_tickets

SEVERITY = {"new": 0, "top": 0, "healthy": 0, "watch": 1, "at_risk": 2, "exit_review": 3}
MOVERS = 3  # biggest rises and biggest drops shown, each
LOOKBACK = timedelta(days=14)  # how far back "the previous daily evaluation" may be


@dataclass(frozen=True)
class TicketLine:
    number: int
    level: int
    seller_id: str
    seller_name: str
    category: str
    status: str
    next_deadline: datetime | None


@dataclass(frozen=True)
class ClockLine:
    number: int
    level: int
    seller_id: str
    seller_name: str
    target: str
    state: str  # "at_risk" (warned) | "breached"
    deadline_at: datetime | None


@dataclass(frozen=True)
class SellerChange:
    seller_id: str
    seller_name: str
    before: str | None  # None: no earlier evaluation
    after: str
    score: float | None


@dataclass(frozen=True)
class Mover:
    seller_id: str
    seller_name: str
    delta: float
    score: float | None


@dataclass(frozen=True)
class Digest:
    account_manager_id: str
    account_manager_name: str
    day: date
    seller_ids: list[str]
    tickets: list[TicketLine] = field(default_factory=list)
    clocks: list[ClockLine] = field(default_factory=list)
    entering: list[SellerChange] = field(default_factory=list)
    movers_up: list[Mover] = field(default_factory=list)
    movers_down: list[Mover] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)  # seller names, most urgent first
    chart: Chart | None = None

    @property
    def empty(self) -> bool:
        return not (self.tickets or self.clocks or self.entering or self.attention)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("chart")
        data["day"] = self.day.isoformat()
        for line in data["tickets"]:
            line["next_deadline"] = _iso(line["next_deadline"])
        for line in data["clocks"]:
            line["deadline_at"] = _iso(line["deadline_at"])
        data["chart"] = (
            {
                "labels": self.chart.labels,
                "points": self.chart.points,
                "width": self.chart.width,
                "height": self.chart.height,
            }
            if self.chart
            else None
        )
        return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def account_managers(session: Session) -> list[str]:
    """Everyone with at least one seller in the directory."""
    rows = session.scalars(
        select(Seller.account_manager_id)
        .where(Seller.account_manager_id.is_not(None))
        .distinct()
        .order_by(Seller.account_manager_id)
    )
    return [r for r in rows if r]


def build_digest(
    session: Session,
    *,
    account_manager_id: str,
    day: date,
    now: datetime,
    config: PerfConfig,
    language: str = "fr",
    chart_title: str | None = None,
) -> Digest:
    """The digest of `day` as of `now`; a chart only when some seller needs attention."""
    sellers = {
        s.seller_id: s
        for s in session.scalars(
            select(Seller)
            .where(Seller.account_manager_id == account_manager_id)
            .order_by(Seller.seller_id)
        )
    }
    staff = session.get(Staff, account_manager_id)
    am_name = (staff.display_name if staff else None) or account_manager_id
    ids = list(sellers)
    if not ids:
        return Digest(account_manager_id, am_name, day, [])
    tickets = [
        TicketLine(
            t.number, t.level, t.seller_id, t.seller_name, t.category, t.status, t.next_deadline
        )
        for t in list_tickets(session, seller_ids=ids)
        if t.level in (2, 3)
    ]
    latest, previous = _last_two_daily(session, ids, day=day)
    entering = []
    for sid, ev in latest.items():
        before = previous.get(sid)
        was = before.segment if before else None
        if SEVERITY.get(ev.segment, 0) > 0 and SEVERITY.get(ev.segment, 0) > SEVERITY.get(
            was or "new", 0
        ):
            entering.append(SellerChange(sid, sellers[sid].name, was, ev.segment, ev.score))
    entering.sort(key=lambda c: (-SEVERITY[c.after], c.seller_name))
    deltas = [
        Mover(sid, sellers[sid].name, float(d), ev.score)
        for sid, ev in latest.items()
        if (d := (ev.trend or {}).get("score_delta_week")) is not None
    ]
    up = sorted((m for m in deltas if m.delta > 0), key=lambda m: -m.delta)[:MOVERS]
    down = sorted((m for m in deltas if m.delta < 0), key=lambda m: m.delta)[:MOVERS]
    attention = _needs_attention(latest, config)
    digest = Digest(
        account_manager_id=account_manager_id,
        account_manager_name=am_name,
        day=day,
        seller_ids=ids,
        tickets=tickets,
        clocks=_clocks(session, ids, sellers, now=now),
        entering=entering,
        movers_up=up,
        movers_down=down,
        attention=[sellers[sid].name for sid in attention],
    )
    if not attention:
        return digest
    history = _weekly_history(session, attention, day=day)
    series = {sellers[sid].name: list(history.get(sid, [])) for sid in attention}
    from routing.charts import score_trend_chart  # matplotlib: only when a chart is drawn

    chart = score_trend_chart(
        series,
        title=chart_title or f"Scores — {am_name} — {day.isoformat()}",
        language=language,
        top_min_score=config.top_min_score,
    )
    return Digest(**{**digest.__dict__, "chart": chart})


def do_record_digest(
    session: Session, *, digest: Digest, text: str, chart_path: str | None
) -> bool:
    """Record the day's digest; False (nothing written) when this manager already has one."""
    row = models.Digest(
        account_manager_id=digest.account_manager_id,
        day=digest.day,
        text=text,
        chart_path=chart_path,
    )
    return add_if_new(session, row)


def already_sent(session: Session, *, account_manager_id: str, day: date) -> bool:
    return (
        session.scalar(
            select(models.Digest.id).where(
                models.Digest.account_manager_id == account_manager_id, models.Digest.day == day
            )
        )
        is not None
    )


# ---- queries, all restricted to the manager's sellers --------------------------------------


def _last_two_daily(
    session: Session, ids: Sequence[str], *, day: date
) -> tuple[dict[str, PerfEvaluation], dict[str, PerfEvaluation]]:
    latest: dict[str, PerfEvaluation] = {}
    previous: dict[str, PerfEvaluation] = {}
    rows = session.scalars(
        select(PerfEvaluation)
        .where(
            PerfEvaluation.seller_id.in_(ids),
            PerfEvaluation.kind == "daily",
            PerfEvaluation.day <= day,
            PerfEvaluation.day > day - LOOKBACK,
        )
        .order_by(PerfEvaluation.day.desc())
    )
    for ev in rows:
        if ev.seller_id not in latest:
            latest[ev.seller_id] = ev
        elif ev.seller_id not in previous:
            previous[ev.seller_id] = ev
    return latest, previous


def _needs_attention(latest: dict[str, PerfEvaluation], config: PerfConfig) -> list[str]:
    """Sellers in watch or worse, or declining, or down by the decline threshold: worst first."""
    flagged = []
    for sid, ev in latest.items():
        trend = ev.trend or {}
        delta = trend.get("score_delta_week")
        dropping = delta is not None and delta <= -config.decline_drop_points
        if SEVERITY.get(ev.segment, 0) > 0 or trend.get("declining") or dropping:
            flagged.append(
                (-SEVERITY.get(ev.segment, 0), ev.score if ev.score is not None else 0, sid)
            )
    return [sid for *_, sid in sorted(flagged)]


def _weekly_history(
    session: Session, ids: Sequence[str], *, day: date
) -> dict[str, list[tuple[date, float | None, str | None]]]:
    since = day - timedelta(weeks=HISTORY_WEEKS)
    out: dict[str, list[tuple[date, float | None, str | None]]] = {}
    for ev in session.scalars(
        select(PerfEvaluation)
        .where(
            PerfEvaluation.seller_id.in_(list(ids)),
            PerfEvaluation.kind == "weekly",
            PerfEvaluation.day <= day,
            PerfEvaluation.day > since,
        )
        .order_by(PerfEvaluation.day)
    ):
        out.setdefault(ev.seller_id, []).append((ev.day, ev.score, ev.segment))
    return out


def _clocks(
    session: Session, ids: Sequence[str], sellers: dict[str, Seller], *, now: datetime
) -> list[ClockLine]:
    """Clocks still counting (running or paused) that warned (at risk) or breached."""
    rows = session.execute(
        select(SlaClock, Ticket)
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .where(
            Ticket.seller_id.in_(list(ids)),
            Ticket.status != "resolved",
            SlaClock.status.in_(ACTIVE),
            (SlaClock.warned_at.is_not(None)) | (SlaClock.breached_at.is_not(None)),
        )
        .order_by(SlaClock.deadline_at, Ticket.number)
    )
    lines = []
    for clock, ticket in rows:
        breached = clock.breached_at is not None or (
            clock.deadline_at is not None and clock.deadline_at <= now
        )
        lines.append(
            ClockLine(
                number=ticket.number,
                level=ticket.level,
                seller_id=ticket.seller_id,
                seller_name=sellers[ticket.seller_id].name,
                target=clock.target,
                state="breached" if breached else "at_risk",
                deadline_at=clock.deadline_at,
            )
        )
    lines.sort(key=lambda c: (c.state != "breached", -c.level, c.number))
    return lines
