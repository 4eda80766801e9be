"""The schedule: one declarative table of jobs, run by APScheduler inside `comptoir worker`.

Two kinds of job. An interval job (the SLA sweep) is safe to run anywhere, any number of
times: it claims each alert in the database itself. A periodic job (the daily evaluation, the
Monday nudges, the business-day digests) has a calendar `Rule`: each due instant belongs to a
period ("2026-11-27", "2026-W48"), and a run first claims (job, period) in job_runs, so a
period runs once across restarts and processes. Catching up runs the latest due period of
each periodic job if nobody has: once when a process becomes leader (a run missed while down
happens then, late, once), and every few minutes through the table's `catch_up` job (a failed
or deferred period is retried; see routing.job_runs for the policy). A period later than its
job's misfire_grace_time is recorded as missed instead of run.

Only the leader runs the scheduler (`LeadingScheduler`, routing.leader): one process acts.
It runs in the worker, beside the answering, at the worker's lower CPU priority: the daily
evaluation or a digest's chart never competes with `comptoir serve`'s acks.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from time import monotonic
from typing import Any, cast
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.listeners.deps import Deps
from bot.sla_job import run_sla_sweep
from routing import inbox_store, job_runs
from routing.db import transaction
from routing.leader import Campaign, Leader, process_owner
from routing.performance.config import PerfConfig
from routing.periods import Period, Rule

logger = logging.getLogger(__name__)

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_of(rule: Rule) -> CronTrigger:
    """Fires on the rule's weekdays; holidays are filtered when the job runs."""
    days = ",".join(_WEEKDAYS[d] for d in sorted(rule.weekdays))
    return CronTrigger(
        day_of_week=days,
        hour=rule.at.hour,
        minute=rule.at.minute,
        timezone=ZoneInfo(rule.timezone),
    )


@dataclass(frozen=True)
class Job:
    id: str
    # interval jobs: func(deps); periodic jobs (rule set): func(deps, period, now)
    func: Callable[..., Any]
    trigger: str = "cron"  # an APScheduler trigger alias; a periodic job's is its rule's cron
    trigger_args: dict[str, Any] = field(default_factory=dict)
    rule: Rule | None = None
    coalesce: bool = True  # missed runs fold into one
    max_instances: int = 1  # a slow run is never overlapped by the next
    # Seconds a run may start late and still run; None: however late. APScheduler's default
    # (1 s) silently skips a run delayed by a busy machine or a suspended laptop. For a
    # periodic job the same limit applies to catching up after downtime.
    misfire_grace_time: int | None = None
    # Days back that catching up also runs the periods that never ran since the job's last
    # recorded one, oldest first (0: only the latest due period). Never before the first run.
    backfill_days: int = 0


def _sla_sweep(deps: Deps) -> None:
    run_sla_sweep(deps)


CATCH_UP_MINUTES = 5
BACKFILL_DAYS = 7  # the weekly history segments read; older gaps: `comptoir perf evaluate --date`


class Deferred(Exception):
    """Raised by a periodic job that must not act now (quiet hours): the period stays
    undone and the next catch-up tries again."""


# ---- the performance jobs (routing.performance, routing.nudges, bot.perf_posting) ----


def _perf_evaluate(config: PerfConfig, deps: Deps, period: Period, now: datetime) -> None:
    from routing.performance.evaluate import evaluate_all

    # the evaluation of day D runs on D, over the window ending D (metrics imported so far)
    with transaction(deps.session_factory) as session:
        run = evaluate_all(session, day=period.day, config=config, now=now)
    logger.info("perf_evaluate %s: %s", period.key, run)


def _nudges(config: PerfConfig, deps: Deps, period: Period, now: datetime) -> None:
    from bot.perf_posting import post_nudges

    kb = deps.answerer
    if not hasattr(kb, "retrieve"):
        raise TypeError("nudges quote the guidelines: the answerer must have .retrieve()")
    report = post_nudges(
        deps.session_factory, deps.outbox, kb=cast(Any, kb), config=config, day=period.day, now=now
    )
    if report.deferred:
        raise Deferred("quiet hours")
    logger.info("nudges %s: %d posted, %d skipped", period.key, report.posted, report.skipped)


def _digests(config: PerfConfig, deps: Deps, period: Period, now: datetime) -> None:
    from bot.perf_posting import post_digests

    report = post_digests(
        deps.session_factory,
        deps.outbox,
        config=config,
        day=period.day,
        now=now,
        language=deps.staff_language,
        timezone=deps.helpdesk_timezone,
    )
    logger.info("digests %s: %d posted, %d skipped", period.key, report.posted, report.skipped)


def performance_jobs(config: PerfConfig) -> tuple[Job, ...]:
    """The periodic jobs, at the times of the performance configuration's `schedules`."""
    s = config.schedules
    every_day = frozenset(range(7))
    return (
        Job(
            id="perf_evaluate",
            func=partial(_perf_evaluate, config),
            rule=Rule(at=s.evaluation_time, timezone=s.timezone, weekdays=every_day),
            # However late: an evaluation only stores numbers (nobody is pinged), and a
            # missing day would leave a hole in the weekly history that segments read, so
            # the days missed while down are evaluated too, oldest first.
            misfire_grace_time=None,
            backfill_days=BACKFILL_DAYS,
        ),
        Job(
            id="nudges",
            func=partial(_nudges, config),
            rule=Rule(
                at=s.nudges_time,
                timezone=s.timezone,
                weekdays=frozenset({s.nudges_weekday}),
                period="week",
            ),
            # 8 h: sellers are promised a Monday-morning nudge; sent by mid-afternoon it is
            # still that day's, later the week's nudge is dropped (recorded as missed).
            misfire_grace_time=8 * 3600,
        ),
        Job(
            id="digests",
            func=partial(_digests, config),
            rule=Rule(
                at=s.digests_time,
                timezone=s.timezone,
                weekdays=frozenset(range(5)) if s.digests_business_days else every_day,
                business_days=s.digests_business_days,
            ),
            # 10 h: a morning digest read by the end of the working day still helps; after
            # that tomorrow's replaces it (each digest is the portfolio's state, not a delta).
            misfire_grace_time=10 * 3600,
        ),
    )


SLA_SWEEP = Job(
    id="sla_sweep",
    func=_sla_sweep,
    trigger="interval",
    trigger_args={"minutes": 1},
    # However late, a sweep is worth running: it fires every deadline that passed since
    # the last one (once each, the clocks are in the database), so a breach that happened
    # while the process was paused is still told, late, rather than never.
    misfire_grace_time=None,
)
CATCH_UP = Job(
    id="catch_up",
    func=lambda deps: None,  # build_scheduler binds it to catch_up over the table's jobs
    trigger="interval",
    trigger_args={"minutes": CATCH_UP_MINUTES},
    # LeadingScheduler catches up once when elected; this retries failed or deferred
    # periods every few minutes. However late, it only ever looks at what is due now.
    misfire_grace_time=None,
)


INBOX_KEPT_DAYS = 7  # handled Slack deliveries kept this long (Slack retries within minutes)


def _inbox_purge(deps: Deps) -> None:
    before = deps.clock() - timedelta(days=INBOX_KEPT_DAYS)
    purged = inbox_store.purge_done(deps.session_factory, before=before)
    if purged:
        logger.info("inbox: %d handled deliveries older than %s purged", purged, before)


INBOX_PURGE = Job(
    id="inbox_purge",
    func=_inbox_purge,
    trigger="interval",
    trigger_args={"hours": 1},
    misfire_grace_time=None,
)


def schedule_for(config: PerfConfig | None) -> tuple[Job, ...]:
    """The whole table; `config` (the operator's performance file, resolved at the edge:
    bot.wiring, bot.cli) sets the periodic times. None: the interval jobs alone."""
    return (SLA_SWEEP, CATCH_UP, INBOX_PURGE, *(performance_jobs(config) if config else ()))


def run_due(deps: Deps, job: Job, *, now: datetime, owner: str | None = None) -> str:
    """Run the latest due period of a periodic job unless it is done or running elsewhere.
    Returns what happened: "none-due", "missed", "taken", "done", "deferred" or "failed"."""
    if job.rule is None:
        raise ValueError(f"{job.id} has no rule: only periodic jobs have periods")
    period = job.rule.latest_due(now)
    if period is None:
        return "none-due"
    return run_period(deps, job, period, now=now, owner=owner)


def run_period(
    deps: Deps, job: Job, period: Period, *, now: datetime, owner: str | None = None
) -> str:
    """Run one period of a periodic job unless it is done, running elsewhere or too late."""
    owner = owner or process_owner()
    grace = job.misfire_grace_time
    if grace is not None and now - period.due_at > timedelta(seconds=grace):
        return _record_missed(deps, job, period, now=now, owner=owner)
    with transaction(deps.session_factory) as session:
        run = job_runs.claim(session, job_id=job.id, period_key=period.key, owner=owner, now=now)
        run_id = run.id if run else None
    if run_id is None:
        return "taken"
    logger.info("job %s %s: running (%s after due)", job.id, period.key, now - period.due_at)
    started = monotonic()
    try:
        job.func(deps, period, now)
    except Deferred as why:
        logger.info(
            "job %s %s deferred (%s); the next catch-up tries again", job.id, period.key, why
        )
        with transaction(deps.session_factory) as session:
            job_runs.mark_failed(session, run_id=run_id, error=f"deferred: {why}", now=now)
        return "deferred"
    except Exception:
        logger.exception("job %s %s failed; retried at the next catch-up", job.id, period.key)
        with transaction(deps.session_factory) as session:
            job_runs.mark_failed(
                session, run_id=run_id, error=traceback.format_exc(), now=_after(now, started)
            )
        return "failed"
    with transaction(deps.session_factory) as session:
        job_runs.mark_done(session, run_id=run_id, now=_after(now, started))
    return "done"


def _after(now: datetime, started: float) -> datetime:
    """When the run ended, on the run's own clock (a test's `now` stays consistent)."""
    return now + timedelta(seconds=monotonic() - started)


def _record_missed(deps: Deps, job: Job, period: Period, *, now: datetime, owner: str) -> str:
    """Too late to be worth running: say so once, as a failed row nobody will retry (the
    grace check comes first), rather than skip in silence."""
    with transaction(deps.session_factory) as session:
        if job_runs.get(session, job_id=job.id, period_key=period.key) is not None:
            return "taken"
        run = job_runs.claim(session, job_id=job.id, period_key=period.key, owner=owner, now=now)
        if run is None:
            return "taken"
        error = f"missed: due {period.due_at.isoformat()}, past its grace at {now.isoformat()}"
        job_runs.mark_failed(session, run_id=run.id, error=error, now=now)
    logger.warning("job %s %s %s", job.id, period.key, error)
    return "missed"


def catch_up(
    deps: Deps, schedule: tuple[Job, ...], *, now: datetime, owner: str | None = None
) -> dict[str, str]:
    """The latest due period of every periodic job, run if nobody has: {job id: outcome}.
    A job with `backfill_days` first runs the earlier periods missed since its last run."""
    outcomes: dict[str, str] = {}
    for job in schedule:
        if job.rule is None:
            continue
        for period in _missed_before_latest(deps, job, now=now):
            run_period(deps, job, period, now=now, owner=owner)
        outcomes[job.id] = run_due(deps, job, now=now, owner=owner)
    return outcomes


def _missed_before_latest(deps: Deps, job: Job, *, now: datetime) -> list[Period]:
    if job.rule is None or job.backfill_days <= 0:
        return []
    with deps.session_factory() as session:
        last = job_runs.latest_period_key(session, job_id=job.id)
    if last is None:  # never ran: a new install starts from today, not a week back
        return []
    return job.rule.due_after(last, now, days=job.backfill_days)[:-1]


def build_scheduler(
    deps: Deps, schedule: tuple[Job, ...], *, owner: str | None = None
) -> BackgroundScheduler:
    """A scheduler with every job of the table added (not started)."""
    owner = owner or process_owner()
    scheduler = BackgroundScheduler(timezone=UTC)
    periodic = tuple(job for job in schedule if job.rule is not None)
    for job in schedule:
        if job.rule is not None:
            trigger: Any = cron_of(job.rule)
            args: dict[str, Any] = {}
            run = _periodic(job, deps, owner)
        else:
            trigger, args = job.trigger, job.trigger_args
            run = (
                _catch_up_of(periodic, deps, owner) if job.id == "catch_up" else _logged(job, deps)
            )
        scheduler.add_job(
            run,
            trigger=trigger,
            id=job.id,
            name=job.id,
            coalesce=job.coalesce,
            max_instances=job.max_instances,
            misfire_grace_time=job.misfire_grace_time,
            replace_existing=True,
            **args,
        )
    return scheduler


def _logged(job: Job, deps: Deps) -> Callable[[], None]:
    def run() -> None:
        try:
            job.func(deps)
        except Exception:
            # the next tick tries again; nothing was committed by a failed run
            logger.exception("scheduled job %s failed", job.id)

    return run


def _periodic(job: Job, deps: Deps, owner: str) -> Callable[[], None]:
    def run() -> None:
        try:
            run_due(deps, job, now=deps.clock(), owner=owner)
        except Exception:  # the claim itself failed (database down): catch-up retries
            logger.exception("scheduled job %s could not run", job.id)

    return run


def _catch_up_of(periodic: tuple[Job, ...], deps: Deps, owner: str) -> Callable[[], None]:
    """The table's catch_up entry, over the periodic jobs of the same table."""

    def run() -> None:
        for job in periodic:
            _periodic(job, deps, owner)()

    return run


class LeadingScheduler:
    """Runs `scheduler` only while this process leads (routing.leader.Campaign). When elected:
    `catch_up()` first (the periods missed while nobody led, each once), then the table's
    triggers; when the lock is lost: paused, campaigning again. `announce` says each change."""

    def __init__(
        self,
        scheduler: BackgroundScheduler,
        leader: Leader,
        *,
        catch_up: Callable[[], dict[str, str]] | None = None,
        owner: str | None = None,
        retry_seconds: float = 5.0,
        announce: Callable[[str], Any] = logger.warning,
    ) -> None:
        self.scheduler = scheduler
        self.catch_up = catch_up
        self.owner = owner or process_owner()
        self.announce = announce
        self.campaign = Campaign(
            leader, on_elected=self._elected, on_lost=self._lost, retry_seconds=retry_seconds
        )

    @property
    def leading(self) -> bool:
        return self.campaign.leading

    def start(self) -> LeadingScheduler:
        self.campaign.start()
        return self

    def stop(self) -> None:
        self.campaign.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def _elected(self) -> None:
        self.announce(f"scheduler leader: {self.owner}")
        if self.catch_up is not None:
            # before the triggers start, on this thread: an exception (the database gone)
            # gives the lead up and the campaign tries again, rather than half-starting
            outcomes = self.catch_up()
            said = ", ".join(f"{job}={what}" for job, what in outcomes.items())
            self.announce(f"caught up: {said or 'no periodic job'}")
        if self.scheduler.running:
            self.scheduler.resume()
        else:
            self.scheduler.start()

    def _lost(self) -> None:
        if self.scheduler.running:
            self.scheduler.pause()
        self.announce(f"scheduler follower: {self.owner} lost the lead")


def lead_schedule(
    deps: Deps,
    *,
    db_url: str,
    schedule: tuple[Job, ...],
    retry_seconds: float,
    announce: Callable[[str], Any],
) -> LeadingScheduler:
    """Campaign for the lead of the whole schedule on `db_url`, started: the one holding the
    lock (routing.leader) runs it; the others campaign every `retry_seconds` and take over
    when it dies. A new leader first runs the periods missed while nobody led (once each,
    job_runs). `announce` says each change."""
    from routing.leader import make_leader

    return LeadingScheduler(
        build_scheduler(deps, schedule),
        make_leader(db_url),
        catch_up=lambda: catch_up(deps, schedule, now=deps.clock()),
        retry_seconds=retry_seconds,
        announce=announce,
    ).start()
