"""The pure arithmetic of an evaluation, vectorised over sellers: window sums -> metric values
-> thresholds crossed -> score -> segment, and the trend and projection over weekly points.

Arrays are indexed (seller, point, …) where point k is the evaluation day minus k weeks, so
point 0 is "now", point 1 "a week ago" (the previous weekly evaluation when run on the weekly
day). Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routing.performance.config import METRICS, PerfConfig

# the summed columns of a window; means are carried as value × count so they can be re-weighted
SUM_COLUMNS = (
    "orders",
    "accepted_orders",
    "delay_sum",  # acceptance_delay_hours × accepted_orders
    "seller_cancellations",
    "shipments",
    "late_shipments",
    "shipments_with_tracking",
    "customer_messages",
    "response_sum",  # response_hours × customer_messages
    "incidents",
    "ratings_count",
    "rating_sum",  # rating_mean × ratings_count
)
_C = {name: i for i, name in enumerate(SUM_COLUMNS)}
SEGMENTS = ("new", "top", "healthy", "watch", "at_risk", "exit_review")
NEW, TOP, HEALTHY, WATCH, AT_RISK, EXIT = range(len(SEGMENTS))
# values stay in their possible range when extrapolated
_BOUNDS = {
    "acceptance_delay": (0.0, np.inf),
    "acceptance_rate": (0.0, 100.0),
    "cancellation_rate": (0.0, 100.0),
    "late_shipment_rate": (0.0, 100.0),
    "valid_tracking_rate": (0.0, 100.0),
    "response_time": (0.0, np.inf),
    "incident_rate": (0.0, np.inf),
    "rating": (1.0, 5.0),
}


def window_sums(daily: np.ndarray, ends: np.ndarray, window: int) -> np.ndarray:
    """daily (S, D, C) per-day sums -> (S, len(ends), C) sums over the `window` days ending
    at each index of `ends` (inclusive); days before index 0 count as empty."""
    cs = np.zeros((daily.shape[0], daily.shape[1] + 1, daily.shape[2]), dtype=np.float64)
    np.cumsum(daily, axis=1, out=cs[:, 1:])
    ends = np.asarray(ends)
    starts = np.maximum(ends + 1 - window, 0)
    return cs[:, ends + 1] - cs[:, starts]


def metric_values(sums: np.ndarray) -> np.ndarray:
    """(…, C) window sums -> (…, 8) metric values in METRICS order; NaN when undefined."""

    def ratio(num: str, den: str, scale: float = 1.0) -> np.ndarray:
        d = sums[..., _C[den]]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, scale * sums[..., _C[num]] / d, np.nan)

    return np.stack(
        [
            ratio("delay_sum", "accepted_orders"),
            ratio("accepted_orders", "orders", 100.0),
            ratio("seller_cancellations", "orders", 100.0),
            ratio("late_shipments", "shipments", 100.0),
            ratio("shipments_with_tracking", "shipments", 100.0),
            ratio("response_sum", "customer_messages"),
            ratio("incidents", "orders", 100.0),
            ratio("rating_sum", "ratings_count"),
        ],
        axis=-1,
    )


@dataclass(frozen=True)
class Standing:
    """Where sellers stand at each point: every array is (S, K) or (S, K, 8)."""

    orders: np.ndarray
    values: np.ndarray
    alerts: np.ndarray  # bool, per metric
    limits: np.ndarray  # bool, per metric
    scores: np.ndarray  # NaN when under the minimum order count
    segments: np.ndarray  # index into SEGMENTS


def _rule_arrays(config: PerfConfig) -> dict[str, np.ndarray]:
    rules = [config.metrics[m] for m in METRICS]
    return {
        # +1 when a bigger value is worse, -1 when a smaller one is: sign * value grows worse
        "sign": np.array([1.0 if r.higher_is_worse else -1.0 for r in rules]),
        "alert": np.array([r.alert for r in rules]),
        "limit": np.array([r.limit for r in rules]),
        "weight": np.array([r.weight for r in rules]),
    }


def sub_scores(values: np.ndarray, config: PerfConfig) -> np.ndarray:
    """Each metric's 0-100 sub-score: piecewise linear through the anchors good/alert/limit/bad
    (100/50/25/0 by default), flat beyond them; NaN where the value is."""
    a = config.anchors
    ys = np.array([a["good"], a["alert"], a["limit"], a["bad"]])
    out = np.full(values.shape, np.nan)
    for j, name in enumerate(METRICS):
        r = config.metrics[name]
        s = 1.0 if r.higher_is_worse else -1.0
        xs = s * np.array([r.good, r.alert, r.limit, r.bad])  # increasing, by config checks
        v = values[..., j]
        ok = ~np.isnan(v)
        out[..., j][ok] = np.interp(s * v[ok], xs, ys)
    return out


def score(values: np.ndarray, config: PerfConfig) -> np.ndarray:
    """Weighted mean of the sub-scores of the metrics that have a value."""
    subs = sub_scores(values, config)
    w = _rule_arrays(config)["weight"] * ~np.isnan(subs)
    total = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.nansum(subs * w, axis=-1) / total, np.nan)


def stand(sums: np.ndarray, config: PerfConfig) -> Standing:
    """(S, K, C) window sums -> the standing at each point, exit review aside."""
    orders = sums[..., _C["orders"]]
    values = metric_values(sums)
    return _stand_values(orders, values, config)


def _stand_values(orders: np.ndarray, values: np.ndarray, config: PerfConfig) -> Standing:
    r = _rule_arrays(config)
    signed = r["sign"] * values
    with np.errstate(invalid="ignore"):
        alerts = signed > r["sign"] * r["alert"]  # NaN compares False: no data, no alert
        limits = signed > r["sign"] * r["limit"]
    scored = orders >= config.minimum_orders
    scores = np.where(scored, score(values, config), np.nan)
    any_alert, any_limit = alerts.any(axis=-1), limits.any(axis=-1)
    segments = np.full(orders.shape, HEALTHY, dtype=np.int8)
    segments[(scores >= config.top_min_score) & ~any_alert] = TOP
    segments[any_alert] = WATCH
    segments[any_limit] = AT_RISK
    segments[~scored] = NEW
    alerts &= scored[..., None]
    limits &= scored[..., None]
    return Standing(orders, values, alerts, limits, scores, segments)


def with_exit_review(segments: np.ndarray, weeks: int) -> np.ndarray:
    """Point 0 becomes exit_review when at risk at each of the last `weeks` weekly points
    (now included). Other points keep their own segment."""
    out = segments[:, 0].copy()
    at_risk = (segments[:, :weeks] == AT_RISK) | (segments[:, :weeks] == EXIT)
    if segments.shape[1] >= weeks:
        out[at_risk.all(axis=1)] = EXIT
    return out


@dataclass(frozen=True)
class Trend:
    delta_week: np.ndarray  # (S,) score now - score a week ago; NaN when either is missing
    drops_in_a_row: np.ndarray  # (S,) consecutive weekly drops ending now
    weekly_drop: np.ndarray  # (S,) bool
    many_drops: np.ndarray  # (S,) bool
    declining: np.ndarray  # (S,) bool


def trend(scores: np.ndarray, config: PerfConfig) -> Trend:
    """scores (S, K): decline = a drop of `weekly_drop_points` in a week, or
    `drops_in_a_row` weekly drops in a row, whatever the segment."""
    delta = scores[:, 0] - scores[:, 1]
    with np.errstate(invalid="ignore"):
        # point k lower than point k+1 (a week before) by at least the noise floor
        drop = scores[:, 1:] - scores[:, :-1] >= max(config.decline_min_drop_points, 1e-9)
    run = np.cumprod(drop, axis=1).sum(axis=1)
    with np.errstate(invalid="ignore"):
        weekly_drop = delta <= -config.decline_drop_points
    many = run >= config.decline_drops_in_a_row
    return Trend(delta, run, weekly_drop, many, weekly_drop | many)


def project(standing: Standing, config: PerfConfig) -> tuple[np.ndarray, Standing]:
    """Where each seller stands `horizon_weeks` from now if nothing changes: per metric, the
    least-squares slope over the last `projection.weeks` weekly points, extrapolated from
    today's value; then scored and segmented like a real evaluation. Returns the projected
    values (S, 8) and the projected standing (K = 1)."""
    p = min(config.projection_weeks, standing.values.shape[1])
    y = standing.values[:, :p, :]  # (S, P, 8)
    x = -np.arange(p, dtype=np.float64)[None, :, None]  # weeks from now
    m = ~np.isnan(y)
    n = m.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = (x * m).sum(axis=1, keepdims=True) / n
        ym = np.where(m, y, 0).sum(axis=1, keepdims=True) / n
        dx = np.where(m, x - xm, 0)
        sxx = (dx * dx).sum(axis=1)
        sxy = (dx * np.where(m, y - ym, 0)).sum(axis=1)
        slope = np.where(sxx > 0, sxy / sxx, 0.0)
    projected = y[:, 0, :] + slope * config.projection_horizon_weeks
    for j, name in enumerate(METRICS):
        lo, hi = _BOUNDS[name]
        projected[:, j] = np.clip(projected[:, j], lo, hi)
    proj = _stand_values(standing.orders[:, :1], projected[:, None, :], config)
    return projected, proj
