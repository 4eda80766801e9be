"""The SLA sweep as a job: the worker's every minute and `comptoir sla sweep` by hand, the same
code. routing.escalation fires what is due, decides who is told, records it and queues the
messages in the outbox, in one transaction; this module only renders the messages (in the
staff's language and the help desk's timezone) and wakes the outbox of this process, if any.

A sweep by hand needs no knowledge base and no Slack client: what it queues, the running
worker's outbox delivers (it polls the table), exactly once like the worker's own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot import ticket_blocks
from bot.blocks import Message
from bot.listeners.deps import Deps
from routing import escalation
from routing.calendars import humanize_deadline
from routing.db import transaction, utcnow
from routing.sla_clocks import SlaAlert
from routing.sla_policy import SlaPolicy

logger = logging.getLogger(__name__)


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Sweeper:
    """What one SLA sweep needs, and nothing more: the worker builds it from its Deps
    (`of`), `comptoir sla sweep` from the operator's Settings and policy."""

    session_factory: sessionmaker[Session]
    policy: SlaPolicy
    triage_channel: str | None
    helpdesk_timezone: str
    staff_language: str
    clock: Callable[[], datetime] = utcnow
    wake: Callable[[], None] = _nothing  # this process's outbox worker, when there is one

    @classmethod
    def of(cls, deps: Deps) -> Sweeper:
        return cls(
            session_factory=deps.session_factory,
            policy=deps.policy,
            triage_channel=deps.triage_channel,
            helpdesk_timezone=deps.helpdesk_timezone,
            staff_language=deps.staff_language,
            clock=deps.clock,
            wake=deps.outbox.wake,
        )

    def run(self, *, now: datetime | None = None) -> list[SlaAlert]:
        """One pass at `now` (default: the clock); returns the alerts it fired."""
        now = now or self.clock()
        with transaction(self.session_factory) as session:
            alerts = escalation.sweep(
                session,
                now=now,
                policy=self.policy,
                render=lambda alert: self.render(alert, now=now),
                triage_channel=self.triage_channel,
                # queued for delivery now: `now` is the sweep's instant, which a test, a
                # catch-up after downtime or `sla sweep --now` may set apart from the wall
                # clock the outbox runs on
                queued_at=self.clock(),
            )
        if alerts:
            logger.info("SLA sweep: %d alert(s)", len(alerts))
            self.wake()
        return alerts

    def render(self, alert: SlaAlert, *, now: datetime) -> Message:
        return ticket_blocks.sla_alert(
            number=alert.number,
            level=alert.level,
            kind=alert.kind,
            target=alert.target,
            due=self._when(alert, now=now),
            staff_language=self.staff_language,
        )

    def _when(self, alert: SlaAlert, *, now: datetime) -> str:
        """A warning says how long is left, in words; a breach when the deadline was."""
        if alert.deadline_at is None:
            return "?"
        if alert.kind == "warning":
            language: Literal["fr", "en"] = "fr" if self.staff_language == "fr" else "en"
            words = humanize_deadline(
                alert.deadline_at, now_utc=now, language=language, tz=self.helpdesk_timezone
            )
            return words or "?"
        local = alert.deadline_at.astimezone(ZoneInfo(self.helpdesk_timezone))
        return local.strftime("%d/%m %H:%M")


def run_sla_sweep(deps: Deps, *, now: datetime | None = None) -> list[SlaAlert]:
    """One pass; the scheduler calls it every minute, tests call it with a `now` of their own."""
    return Sweeper.of(deps).run(now=now)
