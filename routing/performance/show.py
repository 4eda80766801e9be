"""One seller's standing, spelled out: each metric against its thresholds, the score, the
segment, the trend and where the seller is heading."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from routing.models import Seller
from routing.performance import evaluate
from routing.performance.config import METRICS, PerfConfig


class UnknownSellerError(LookupError):
    """No seller with that id in the directory."""


@dataclass(frozen=True)
class MetricStanding:
    metric: str
    label: dict[str, str]
    unit: str
    direction: str
    value: float | None
    alert: float
    limit: float
    status: str  # ok | alert | limit | no_data (also when the seller is not scored yet)
    projected: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "label": self.label,
            "unit": self.unit,
            "direction": self.direction,
            "value": self.value,
            "alert": self.alert,
            "limit": self.limit,
            "status": self.status,
            "projected": self.projected,
        }


@dataclass(frozen=True)
class SellerPerformance:
    seller_id: str
    name: str
    day: date
    orders: int
    minimum_orders: int
    metrics: list[MetricStanding]
    score: float | None
    segment: str
    trend: dict[str, Any]
    projection: dict[str, Any]
    stored: bool  # False: computed on the fly, no evaluation was stored for that day

    @property
    def crossed(self) -> list[MetricStanding]:
        return [m for m in self.metrics if m.status in ("alert", "limit")]

    def to_json(self) -> dict[str, Any]:
        return {
            "seller_id": self.seller_id,
            "name": self.name,
            "day": self.day.isoformat(),
            "orders": self.orders,
            "minimum_orders": self.minimum_orders,
            "score": self.score,
            "segment": self.segment,
            "metrics": [m.to_json() for m in self.metrics],
            "crossed": [
                {
                    "metric": m.metric,
                    "value": m.value,
                    "threshold": m.limit if m.status == "limit" else m.alert,
                    "kind": m.status,
                }
                for m in self.crossed
            ],
            "trend": self.trend,
            "projection": self.projection,
            "stored": self.stored,
        }

    def render(self) -> str:
        score = "–" if self.score is None else f"{self.score:.1f}"
        lines = [
            f"{self.seller_id} {self.name} on {self.day}: segment {self.segment}, score {score}, "
            f"{self.orders} orders in the window"
            + (f" (scored from {self.minimum_orders})" if self.segment == "new" else ""),
        ]
        for m in self.metrics:
            value = "–" if m.value is None else f"{round(m.value, 2):g}{m.unit}"
            proj = "" if m.projected is None else f"  next week {round(m.projected, 2):g}{m.unit}"
            mark = {"alert": "ALERT", "limit": "LIMIT"}.get(m.status, "")
            sign = ">" if m.direction == "higher_is_worse" else "<"
            lines.append(
                f"  {m.label.get('en', m.metric):<36} {value:>10}  alert {sign} {m.alert:g}  "
                f"limit {sign} {m.limit:g}  {mark}{proj}"
            )
        t = self.trend
        delta = t.get("score_delta_week")
        lines.append(
            f"  trend: {'–' if delta is None else f'{delta:+.1f}'} points in a week, "
            f"{t.get('weekly_drops_in_a_row', 0)} weekly drop(s) in a row"
            + (f", DECLINING ({', '.join(t.get('reasons', []))})" if t.get("declining") else "")
        )
        p = self.projection
        pscore = p.get("score")
        lines.append(
            f"  projection (next evaluation if nothing changes): {p.get('segment')}, "
            f"score {'–' if pscore is None else f'{pscore:.1f}'}"
        )
        return "\n".join(lines)


def show(
    session: Session, *, seller_id: str, config: PerfConfig, day: date | None = None
) -> SellerPerformance | None:
    """The stored daily evaluation of `day` (the latest when None); computed on the fly when
    none was stored for that day. None when there is nothing to show. `config` is the
    operator's, resolved by the caller (bot.cli): no default is read here."""
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise UnknownSellerError(f"unknown seller {seller_id!r}")
    stored = (
        evaluate.latest(session, seller_id=seller_id)
        if day is None
        else evaluate.get(session, seller_id=seller_id, day=day)
    )
    ev = stored
    if ev is None:
        if day is None:
            return None
        ev = evaluate.compute(session, days=[day], config=config, seller_ids=[seller_id])[day][0]
    standings = []
    for name in METRICS:
        rule = config.metrics[name]
        value = ev.values.get(name)
        status = "no_data" if value is None or ev.score is None else "ok"
        if name in ev.limits:
            status = "limit"
        elif name in ev.alerts:
            status = "alert"
        standings.append(
            MetricStanding(
                metric=name,
                label=rule.label,
                unit=rule.unit,
                direction=rule.direction,
                value=value,
                alert=rule.alert,
                limit=rule.limit,
                status=status,
                projected=ev.projection.get("metrics", {}).get(name),
            )
        )
    return SellerPerformance(
        seller_id=seller_id,
        name=seller.name,
        day=ev.day,
        orders=ev.orders,
        minimum_orders=config.minimum_orders,
        metrics=standings,
        score=ev.score,
        segment=ev.segment,
        trend=ev.trend,
        projection=ev.projection,
        stored=stored is not None,
    )
