"""The schedule: one declarative table of jobs, run by APScheduler inside `comptoir serve`.

Every job is safe to run on several replicas at once (the sweep claims each alert with a
conditional UPDATE), so each replica runs its own scheduler and no leader is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.listeners.deps import Deps
from bot.sla_job import run_sla_sweep

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[Deps], Any]
    trigger: str  # an APScheduler trigger alias: "interval", "cron"
    trigger_args: dict[str, Any] = field(default_factory=dict)
    coalesce: bool = True  # missed runs fold into one: a sweep catches up on everything
    max_instances: int = 1  # a slow run is never overlapped by the next
    # Seconds a run may start late and still run; None: however late. APScheduler's default
    # (1 s) silently skips a run delayed by a busy machine or a suspended laptop.
    misfire_grace_time: int | None = None


def _sla_sweep(deps: Deps) -> None:
    run_sla_sweep(deps)


SCHEDULE: tuple[Job, ...] = (
    Job(
        id="sla_sweep",
        func=_sla_sweep,
        trigger="interval",
        trigger_args={"minutes": 1},
        # However late, a sweep is worth running: it fires every deadline that passed since
        # the last one (once each, the clocks are in the database), so a breach that happened
        # while the process was paused is still told, late, rather than never.
        misfire_grace_time=None,
    ),
)


def build_scheduler(deps: Deps, schedule: tuple[Job, ...] = SCHEDULE) -> BackgroundScheduler:
    """A scheduler with every job of the table added (not started)."""
    scheduler = BackgroundScheduler(timezone=UTC)
    for job in schedule:
        scheduler.add_job(
            _logged(job, deps),
            trigger=job.trigger,
            id=job.id,
            name=job.id,
            coalesce=job.coalesce,
            max_instances=job.max_instances,
            misfire_grace_time=job.misfire_grace_time,
            replace_existing=True,
            **job.trigger_args,
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
