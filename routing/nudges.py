"""Weekly nudges to sellers: what to act on (or a thank-you), with the guideline that says so.

`build_nudges` only reads: it returns the facts of each nudge (metric, value, threshold, trend,
projection, the guideline passage quoted), one seller's rows at a time, so a nudge cannot
carry another seller's data. The words are the bot's (bot/perf_messages.py); the bot records
what it posted with `do_record_nudge`, and the unique (seller_id, week) key keeps it to one a
week even when two runs race.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.types import EmptyIndexError, Passage
from routing import models
from routing.db import add_if_new
from routing.models import PerfEvaluation, Seller
from routing.performance.config import MetricRule, PerfConfig

logger = logging.getLogger(__name__)

ACT, THANKS = "act", "thanks"
CONCERNING = ("watch", "at_risk", "exit_review")
STALE_AFTER = timedelta(days=7)  # an evaluation older than this says nothing about this week
_QUERY = {
    "fr": "{label} seuil d'alerte limite",
    "en": "{label} alert threshold limit",
}
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


class Retriever(Protocol):
    """knowledge.service.KnowledgeBase, or anything that retrieves guideline passages."""

    def retrieve(self, query: str, *, k: int = 5) -> list[Passage]: ...


@dataclass(frozen=True)
class Guideline:
    """The passage that sets the threshold, quoted: the sentences with the numbers in them."""

    quote: str
    title: str
    section: str
    source: str
    url: str | None
    language: str


@dataclass(frozen=True)
class Nudge:
    seller_id: str
    seller_name: str
    channel_id: str
    language: str
    week: str  # ISO week, "2026-W48"
    day: date
    kind: str  # "act" | "thanks"
    score: float | None
    segment: str
    score_delta_week: float | None
    weekly_drops_in_a_row: int
    declining: bool
    projected_segment: str | None
    projected_score: float | None
    metric: str | None = None  # the one metric to act on ("act" only)
    metric_label: str | None = None
    unit: str | None = None
    value: float | None = None
    level: str | None = None  # "limit" | "alert" | "projected" | "declining"
    threshold: float | None = None  # the one crossed (or about to be)
    alert: float | None = None
    limit: float | None = None
    higher_is_worse: bool = True
    projected_value: float | None = None
    also: list[str] = field(default_factory=list)  # other metrics over a threshold (labels)
    guideline: Guideline | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        return data


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def in_quiet_hours(now: datetime, *, start: time, end: time, tz: ZoneInfo) -> bool:
    """True between `start` and `end` local time; a window may run past midnight (20:00–08:00)."""
    local = now.astimezone(tz).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def build_nudges(
    session: Session,
    *,
    day: date,
    config: PerfConfig,
    kb: Retriever,
    seller_id: str | None = None,
) -> list[Nudge]:
    """The nudges due for the week of `day`: sellers not opted out, not yet nudged that week,
    with a recent evaluation that gives something to act on, or top and steady (thanks)."""
    week = iso_week(day)
    query = select(Seller).where(Seller.nudges_opt_out.is_(False)).order_by(Seller.seller_id)
    if seller_id is not None:
        query = query.where(Seller.seller_id == seller_id)
    sellers = list(session.scalars(query))
    already = set(session.scalars(select(models.Nudge.seller_id).where(models.Nudge.week == week)))
    latest = _latest_evaluations(session, [s.seller_id for s in sellers], day=day)
    guidelines = _GuidelineCache(kb)
    nudges: list[Nudge] = []
    for seller in sellers:
        evaluation = latest.get(seller.seller_id)
        if seller.seller_id in already or evaluation is None:
            continue
        nudge = _nudge_for(seller, evaluation, day=day, week=week, config=config)
        if nudge is None:
            continue
        if nudge.metric is not None:
            rule = config.metrics[nudge.metric]
            nudge = _with_guideline(nudge, guidelines.get(rule, nudge.language))
        nudges.append(nudge)
    return nudges


def do_record_nudge(session: Session, *, nudge: Nudge, text: str, posted: bool) -> bool:
    """Record the week's nudge; False (and nothing written) when the seller already has one."""
    row = models.Nudge(
        seller_id=nudge.seller_id,
        week=nudge.week,
        kind=nudge.kind,
        metric=nudge.metric,
        text=text,
        language=nudge.language,
        posted=posted,
    )
    return add_if_new(session, row)


# ---- one seller -------------------------------------------------------------------------------


def _latest_evaluations(
    session: Session, seller_ids: Sequence[str], *, day: date
) -> dict[str, PerfEvaluation]:
    """Each seller's newest evaluation on or before `day` (the daily one when both exist)."""
    found: dict[str, PerfEvaluation] = {}
    if not seller_ids:
        return found
    since = day - STALE_AFTER
    for chunk in _chunks(seller_ids, 500):
        rows = session.scalars(
            select(PerfEvaluation)
            .where(
                PerfEvaluation.seller_id.in_(chunk),
                PerfEvaluation.day <= day,
                PerfEvaluation.day > since,
            )
            .order_by(PerfEvaluation.day.desc())
        )
        for row in rows:
            best = found.get(row.seller_id)
            if best is None or (row.day == best.day and row.kind == "daily"):
                found[row.seller_id] = row
    return found


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _nudge_for(
    seller: Seller, ev: PerfEvaluation, *, day: date, week: str, config: PerfConfig
) -> Nudge | None:
    if ev.score is None or ev.segment == "new":
        return None  # under the minimum order count: nothing counts yet
    trend = ev.trend or {}
    projection = ev.projection or {}
    language = "fr" if seller.language == "fr" else "en"
    base = Nudge(
        seller_id=seller.seller_id,
        seller_name=seller.name,
        channel_id=seller.channel_id,
        language=language,
        week=week,
        day=day,
        kind=ACT,
        score=ev.score,
        segment=ev.segment,
        score_delta_week=trend.get("score_delta_week"),
        weekly_drops_in_a_row=int(trend.get("weekly_drops_in_a_row") or 0),
        declining=bool(trend.get("declining")),
        projected_segment=projection.get("segment"),
        projected_score=projection.get("score"),
    )
    picked = _metric_to_act_on(ev, config)
    if picked is not None:
        rule, level, threshold = picked
        values = ev.values or {}
        crossed = [m for m in config.metrics if m in set(ev.limits or []) | set(ev.alerts or [])]
        return replace(
            base,
            metric=rule.name,
            metric_label=rule.label.get(language) or rule.name,
            unit=rule.unit,
            value=values.get(rule.name),
            level=level,
            threshold=threshold,
            alert=rule.alert,
            limit=rule.limit,
            higher_is_worse=rule.higher_is_worse,
            projected_value=(projection.get("metrics") or {}).get(rule.name),
            also=[config.metrics[m].label.get(language) or m for m in crossed if m != rule.name],
        )
    if ev.segment == "top" and not base.declining:
        return replace(base, kind=THANKS)
    return None


def _metric_to_act_on(
    ev: PerfEvaluation, config: PerfConfig
) -> tuple[MetricRule, str, float] | None:
    """The worst problem first: a limit crossed, an alert, a threshold the projection crosses,
    then (a decline with nothing crossed) the metric closest to its alert threshold."""
    values: dict[str, Any] = ev.values or {}
    projected: dict[str, Any] = (ev.projection or {}).get("metrics") or {}
    rules = [r for r in config.metrics.values() if values.get(r.name) is not None]

    def excess(rule: MetricRule, value: float, threshold: float) -> float:
        span = abs(rule.limit - rule.alert) or 1.0
        return (value - threshold) / span * (1 if rule.higher_is_worse else -1)

    for level, names, attr in (("limit", ev.limits, "limit"), ("alert", ev.alerts, "alert")):
        crossed = [r for r in rules if r.name in set(names or [])]
        if crossed:
            worst = max(crossed, key=lambda r: excess(r, values[r.name], getattr(r, attr)))
            return worst, level, float(getattr(worst, attr))
    heading = [
        r
        for r in rules
        if projected.get(r.name) is not None and r.worse(float(projected[r.name]), r.alert)
    ]
    if heading:
        worst = max(heading, key=lambda r: excess(r, float(projected[r.name]), r.alert))
        return worst, "projected", worst.alert
    declining = bool((ev.trend or {}).get("declining"))
    if declining or (ev.projection or {}).get("segment") in CONCERNING:
        closest = max(rules, key=lambda r: excess(r, values[r.name], r.alert), default=None)
        if closest is not None:
            return closest, "declining", closest.alert
    return None


# ---- the guideline passage -----------------------------------------------------------------


class _GuidelineCache:
    """One retrieval per (metric, language) per run, not one per seller. With no guideline
    index yet (an operator who starts with performance), the nudges go without a quote, and
    the run says so once in the log."""

    def __init__(self, kb: Retriever) -> None:
        self.kb = kb
        self._found: dict[tuple[str, str], Guideline | None] = {}
        self._no_index = False

    def get(self, rule: MetricRule, language: str) -> Guideline | None:
        key = (rule.name, language)
        if self._no_index:
            return None
        if key not in self._found:
            label = rule.label.get(language) or rule.name
            try:
                passages = self.kb.retrieve(_QUERY[language].format(label=label), k=8)
            except EmptyIndexError:
                self._no_index = True
                logger.warning(
                    "nudges: no guideline index yet (`comptoir kb ingest FOLDER`); "
                    "nudges go without a guideline quote"
                )
                return None
            self._found[key] = pick_guideline(passages, rule=rule, language=language)
        return self._found[key]


def number_pattern(value: float) -> re.Pattern[str]:
    """`1.5` matches "1,5" and "1.5"; `4.0` matches "4", "4,0" and "4.0"; never inside 2026."""
    whole, _, frac = f"{value:g}".partition(".")
    if frac:
        body = rf"{re.escape(whole)}[.,]{re.escape(frac)}0*"
    else:
        body = rf"{re.escape(whole)}(?:[.,]0+)?"
    return re.compile(rf"(?<![\d.,]){body}(?![\d]|[.,]\d)")


def pick_guideline(
    passages: Sequence[Passage], *, rule: MetricRule, language: str
) -> Guideline | None:
    """The passage in the seller's language that states the metric's alert threshold (then its
    limit), quoted by the sentences that carry the numbers; None when none states a number."""
    alert, limit = number_pattern(rule.alert), number_pattern(rule.limit)
    label_words = {w for w in re.findall(r"\w{4,}", (rule.label.get(language) or "").lower())}

    def rank(item: tuple[int, Passage]) -> tuple[int, int, int, int]:
        i, p = item
        text = p.text.lower()
        return (
            int(p.language == language),
            int(bool(alert.search(p.text))) * 2 + int(bool(limit.search(p.text))),
            sum(w in text for w in label_words),
            -i,  # then the retriever's order
        )

    # a passage in the seller's language when there is one; the other language rather than none
    same = [p for p in passages if p.language == language]
    ranked = sorted(enumerate(same or list(passages)), key=rank, reverse=True)
    for _, passage in ranked:
        sentences = [s.strip() for s in _SENTENCE_END.split(passage.text) if s.strip()]
        quoted = [s for s in sentences if alert.search(s) or limit.search(s)]
        if quoted:
            return Guideline(
                quote=" ".join(quoted),
                title=passage.title,
                section=passage.section,
                source=passage.source,
                url=passage.url,
                language=passage.language,
            )
    return None


def _with_guideline(nudge: Nudge, guideline: Guideline | None) -> Nudge:
    return replace(nudge, guideline=guideline)
