"""The SLA sweep as a job: fire what is due, then tell the triage card's thread and, along the
policy's escalation chain, the people by DM. One transaction: an alert is recorded as fired
exactly when its notifications are queued, so a crash between the two loses neither."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot import ticket_blocks
from bot.listeners.deps import Deps
from bot.listeners.ticketing import dm, due_words, triage_key
from routing import sla_clocks, staff
from routing.db import transaction
from routing.models import Ticket
from routing.sla_clocks import SlaAlert

logger = logging.getLogger(__name__)


def run_sla_sweep(deps: Deps, *, now: datetime | None = None) -> list[SlaAlert]:
    """One pass; the scheduler calls it every minute, tests call it with a `now` of their own."""
    now = now or deps.clock()
    with transaction(deps.session_factory) as session:
        alerts = sla_clocks.sweep(session, now=now, policy=deps.policy)
        for alert in alerts:
            notify_sla_alert(deps, session, alert, now=now)
    if alerts:
        logger.info("SLA sweep: %d alert(s)", len(alerts))
        deps.outbox.wake()
    return alerts


def recipients(session: Session, alert: SlaAlert) -> list[str]:
    """Whom to DM: the escalation roles as people (an account manager missing → the leads),
    plus the ticket's owner, who should hear first. Each person once, in that order."""
    people: list[str] = []
    for role in alert.escalate_to:
        if role == "helpdesk_lead":
            people += staff.leads(session)
        elif role == "account_manager":
            people += (
                [alert.account_manager_id] if alert.account_manager_id else staff.leads(session)
            )
        elif role == "head_of_marketplace":
            people += staff.heads(session)
    if alert.owner_id:
        people.insert(0, alert.owner_id)
    return list(dict.fromkeys(people))


def _when(deps: Deps, alert: SlaAlert, *, now: datetime) -> str:
    if alert.deadline_at is None:
        return "?"
    if alert.kind == "warning":
        return due_words(deps, alert.deadline_at, now=now, language=deps.staff_language) or "?"
    local = alert.deadline_at.astimezone(ZoneInfo(deps.helpdesk_timezone))
    return local.strftime("%d/%m %H:%M")


def notify_sla_alert(deps: Deps, session: Session, alert: SlaAlert, *, now: datetime) -> None:
    message = ticket_blocks.sla_alert(
        number=alert.number,
        level=alert.level,
        kind=alert.kind,
        target=alert.target,
        due=_when(deps, alert, now=now),
        staff_language=deps.staff_language,
    )
    # queued for delivery now: `now` is the sweep's instant, which a test (or a catch-up
    # after downtime) may set apart from the wall clock the outbox runs on
    queued_at = deps.clock()
    ticket = session.get(Ticket, alert.ticket_id)
    channel = (ticket.triage_channel if ticket else None) or deps.triage_channel
    if channel:
        payload = {"channel": channel, **message}
        if ticket is not None and ticket.triage_ts:
            payload["thread_ts"] = ticket.triage_ts  # in the card's thread
        deps.outbox.enqueue(
            session,
            method="chat.postMessage",
            payload=payload,
            ordering_key=triage_key(alert.ticket_id),
            now=queued_at,
        )
    for user_id in recipients(session, alert):
        dm(deps, session, user_id=user_id, message=message, now=queued_at)
