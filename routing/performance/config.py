"""The performance configuration: thresholds, weights, windows, segments, decline rules and
schedules, read from one YAML file (routing/performance/defaults.yaml unless told otherwise)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

METRICS = (
    "acceptance_delay",
    "acceptance_rate",
    "cancellation_rate",
    "late_shipment_rate",
    "valid_tracking_rate",
    "response_time",
    "incident_rate",
    "rating",
)
DIRECTIONS = ("higher_is_worse", "lower_is_worse")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_SOURCE = "routing/performance/defaults.yaml"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class PerfConfigError(ValueError):
    """The file is malformed; the message names the file, the key and what was expected."""


@dataclass(frozen=True)
class MetricRule:
    name: str
    label: dict[str, str]
    unit: str
    direction: str
    good: float
    alert: float
    limit: float
    bad: float
    weight: float

    @property
    def higher_is_worse(self) -> bool:
        return self.direction == "higher_is_worse"

    def worse(self, value: float, threshold: float) -> bool:
        """Strictly worse than the threshold, in this metric's direction."""
        return value > threshold if self.higher_is_worse else value < threshold


@dataclass(frozen=True)
class Schedules:
    timezone: str
    evaluation_time: time
    nudges_weekday: int  # 0 = Monday
    nudges_time: time
    digests_time: time
    digests_business_days: bool
    quiet_start: time
    quiet_end: time

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class PerfConfig:
    window_days: int
    minimum_orders: int
    anchors: dict[str, float]  # good/alert/limit/bad -> sub-score
    metrics: dict[str, MetricRule]  # in METRICS order
    top_min_score: float
    exit_review_weeks: int
    decline_drop_points: float
    decline_drops_in_a_row: int
    decline_min_drop_points: float
    projection_weeks: int
    projection_horizon_weeks: int
    weekly_weekday: int  # 0 = Monday
    keep_daily_days: int
    schedules: Schedules
    source: str

    @property
    def weeks_needed(self) -> int:
        """How many weekly points (now, a week ago, …) trend, exit review and projection read."""
        return max(self.projection_weeks, self.decline_drops_in_a_row + 1, self.exit_review_weeks)


def load_perf_config(path: Path | None = None) -> PerfConfig:
    """Read and check a configuration file; None reads the brief's defaults."""
    if path is None:
        text = resources.files("routing.performance").joinpath("defaults.yaml").read_text("utf-8")
        source = DEFAULT_SOURCE
    else:
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PerfConfigError(f"{path}: cannot read ({exc})") from exc
        source = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PerfConfigError(f"{source}: not valid YAML ({exc})") from exc
    return parse_perf_config(data, source=source)


def parse_perf_config(data: Any, *, source: str = "<config>") -> PerfConfig:
    r = _Reader(source)
    root = r.mapping(data, "")
    anchors_raw = r.mapping(root.get("score_anchors"), "score_anchors")
    anchors = {k: r.number(anchors_raw.get(k), f"score_anchors.{k}") for k in _ANCHOR_KEYS}
    if not anchors["good"] >= anchors["alert"] >= anchors["limit"] >= anchors["bad"]:
        raise r.error("score_anchors", "good >= alert >= limit >= bad")

    metrics_raw = r.mapping(root.get("metrics"), "metrics")
    unknown = sorted(set(metrics_raw) - set(METRICS))
    if unknown:
        raise r.error(f"metrics.{unknown[0]}", f"one of {', '.join(METRICS)}")
    metrics = {name: _metric(r, name, metrics_raw.get(name)) for name in METRICS}
    if sum(m.weight for m in metrics.values()) <= 0:
        raise r.error("metrics.*.weight", "at least one positive weight")

    seg = r.mapping(root.get("segments"), "segments")
    dec = r.mapping(root.get("decline"), "decline")
    proj = r.mapping(root.get("projection"), "projection")
    weekly = r.mapping(root.get("weekly"), "weekly")
    hist = r.mapping(root.get("history"), "history")
    return PerfConfig(
        window_days=r.integer(root.get("window_days"), "window_days", minimum=1),
        minimum_orders=r.integer(root.get("minimum_orders"), "minimum_orders", minimum=0),
        anchors=anchors,
        metrics=metrics,
        top_min_score=r.number(seg.get("top_min_score"), "segments.top_min_score"),
        exit_review_weeks=r.integer(
            seg.get("exit_review_weeks"), "segments.exit_review_weeks", minimum=1
        ),
        decline_drop_points=r.number(dec.get("weekly_drop_points"), "decline.weekly_drop_points"),
        decline_drops_in_a_row=r.integer(
            dec.get("drops_in_a_row"), "decline.drops_in_a_row", minimum=1
        ),
        decline_min_drop_points=r.number(
            dec.get("min_drop_points", 0.0), "decline.min_drop_points"
        ),
        projection_weeks=r.integer(proj.get("weeks"), "projection.weeks", minimum=2),
        projection_horizon_weeks=r.integer(
            proj.get("horizon_weeks"), "projection.horizon_weeks", minimum=1
        ),
        weekly_weekday=r.weekday(weekly.get("weekday"), "weekly.weekday"),
        keep_daily_days=r.integer(
            hist.get("keep_daily_days"), "history.keep_daily_days", minimum=1
        ),
        schedules=_schedules(r, root.get("schedules")),
        source=source,
    )


_ANCHOR_KEYS = ("good", "alert", "limit", "bad")


def _metric(r: _Reader, name: str, raw: Any) -> MetricRule:
    key = f"metrics.{name}"
    m = r.mapping(raw, key)
    direction = m.get("direction")
    if direction not in DIRECTIONS:
        raise r.error(f"{key}.direction", " or ".join(DIRECTIONS))
    label_raw = m.get("label", name)
    label = (
        {str(k): str(v) for k, v in label_raw.items()}
        if isinstance(label_raw, Mapping)
        else {"en": str(label_raw), "fr": str(label_raw)}
    )
    rule = MetricRule(
        name=name,
        label=label,
        unit=str(m.get("unit", "")),
        direction=direction,
        good=r.number(m.get("good"), f"{key}.good"),
        alert=r.number(m.get("alert"), f"{key}.alert"),
        limit=r.number(m.get("limit"), f"{key}.limit"),
        bad=r.number(m.get("bad"), f"{key}.bad"),
        weight=r.number(m.get("weight", 1.0), f"{key}.weight"),
    )
    if rule.weight < 0:
        raise r.error(f"{key}.weight", "a weight of 0 or more")
    anchors = [rule.good, rule.alert, rule.limit, rule.bad]
    ordered = (
        anchors == sorted(anchors) if rule.higher_is_worse else anchors == sorted(anchors)[::-1]
    )
    if not ordered or len(set(anchors)) < 4:
        order = "<" if rule.higher_is_worse else ">"
        raise r.error(key, f"good {order} alert {order} limit {order} bad for {direction}")
    return rule


def _schedules(r: _Reader, raw: Any) -> Schedules:
    s = r.mapping(raw, "schedules")
    tz = str(s.get("timezone", "Europe/Paris"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise r.error("schedules.timezone", "an IANA time zone such as Europe/Paris") from exc
    ev = r.mapping(s.get("evaluation"), "schedules.evaluation")
    nu = r.mapping(s.get("nudges"), "schedules.nudges")
    di = r.mapping(s.get("digests"), "schedules.digests")
    qh = r.mapping(s.get("quiet_hours"), "schedules.quiet_hours")
    days = di.get("days", "business_days")
    if days not in ("business_days", "daily"):
        raise r.error("schedules.digests.days", "business_days or daily")
    return Schedules(
        timezone=tz,
        evaluation_time=r.hhmm(ev.get("time"), "schedules.evaluation.time"),
        nudges_weekday=r.weekday(nu.get("weekday"), "schedules.nudges.weekday"),
        nudges_time=r.hhmm(nu.get("time"), "schedules.nudges.time"),
        digests_time=r.hhmm(di.get("time"), "schedules.digests.time"),
        digests_business_days=days == "business_days",
        quiet_start=r.hhmm(qh.get("start"), "schedules.quiet_hours.start"),
        quiet_end=r.hhmm(qh.get("end"), "schedules.quiet_hours.end"),
    )


class _Reader:
    """Typed reads that fail with the file, the key and what was expected."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, expected: str) -> PerfConfigError:
        return PerfConfigError(f"{self.source}: {key or 'the file'}: expected {expected}")

    def mapping(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(key, "a mapping")
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"a number, got {value!r}")
        return float(value)

    def integer(self, value: Any, key: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"a whole number >= {minimum}, got {value!r}")
        return value

    def weekday(self, value: Any, key: str) -> int:
        name = str(value).lower()
        for i, day in enumerate(WEEKDAYS):
            if name in (day, day[:3]):
                return i
        raise self.error(key, f"a weekday (monday … sunday), got {value!r}")

    def hhmm(self, value: Any, key: str) -> time:
        match = _HHMM.match(str(value))
        if not match:
            raise self.error(key, f'a time "HH:MM", got {value!r}')
        return time(int(match.group(1)), int(match.group(2)))
