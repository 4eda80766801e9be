"""Staff surfaces: the App Home (their queue and the team's) and the `/comptoir` command."""

from __future__ import annotations

import logging
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App
from sqlalchemy.orm import Session

from bot import messages, staff_views
from bot.listeners.deps import Deps
from bot.listeners.parsing import parse_command
from bot.listeners.ticketing import due_words, facts_of
from bot.staff_views import QueueLine
from routing import reports, staff, tickets
from routing.db import transaction

logger = logging.getLogger(__name__)

COMMAND = "/comptoir"
TEAM_QUEUE_LIMIT = staff_views.MAX_HOME_LINES


def register(app: App, deps: Deps) -> None:
    def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        do_publish_home(deps, str(event["user"]))

    def on_command(ack: Ack, body: dict[str, Any]) -> None:
        # the answer is the ack itself: Slack shows it to the caller alone, within 3 s
        ack(
            **command_reply(
                deps, user_id=str(body.get("user_id") or ""), text=body.get("text") or ""
            )
        )

    app.event("app_home_opened")(on_home_opened)
    app.command(COMMAND)(on_command)


def _lines(deps: Deps, views: list[tickets.TicketView], *, now: datetime) -> list[QueueLine]:
    return [
        QueueLine(
            number=v.number,
            level=v.level,
            seller_name=v.seller_name,
            status=v.status,
            owner_id=v.owner_id,
            summary=v.summary,
            due=due_words(deps, v.next_deadline, now=now, language=deps.staff_language),
        )
        for v in views
    ]


def do_publish_home(deps: Deps, user_id: str) -> None:
    now = deps.clock()
    group = deps.staff_members()  # before the transaction: it may ask Slack
    with transaction(deps.session_factory) as session:
        if staff.is_staff(session, user_id=user_id, usergroup_members=group):
            mine = tickets.list_tickets(session, owner_id=user_id, limit=TEAM_QUEUE_LIMIT)
            team = tickets.list_tickets(session, limit=TEAM_QUEUE_LIMIT)
            view = staff_views.home_view(
                mine=_lines(deps, mine, now=now),
                team=_lines(deps, team, now=now),
                staff_language=deps.staff_language,
            )
        else:
            view = staff_views.not_staff_home(deps.staff_language)
        deps.outbox.enqueue(
            session,
            method="views.publish",
            payload={"user_id": user_id, "view": view},
            ordering_key=f"home:{user_id}",
            now=now,
        )
    deps.outbox.wake()


def command_reply(deps: Deps, *, user_id: str, text: str) -> dict[str, Any]:
    """`/comptoir queue | ticket N | stats` for staff; a private refusal for anyone else."""
    lang = deps.staff_language
    now = deps.clock()
    group = deps.staff_members() if user_id else frozenset[str]()
    with deps.session_factory() as session:
        if not user_id or not staff.is_staff(session, user_id=user_id, usergroup_members=group):
            return staff_views.command_reply(messages.text("staff.refused", lang))
        command = parse_command(text)
        if command.name == "queue":
            views = tickets.list_tickets(session, limit=TEAM_QUEUE_LIMIT)
            return staff_views.queue_reply(_lines(deps, views, now=now), lang)
        if command.name == "ticket" and command.number is not None:
            ticket = tickets.get_by_number(session, number=command.number)
            if ticket is None:
                return staff_views.command_reply(
                    messages.text("command.no_ticket", lang, number=command.number)
                )
            return staff_views.ticket_reply(facts_of(deps, session, ticket, now=now), lang)
        if command.name == "stats":
            return staff_views.stats_reply(_today(deps, session, now=now), lang)
    return staff_views.command_reply(messages.text("command.help", lang))


def _today(deps: Deps, session: Session, *, now: datetime) -> dict[str, Any]:
    """routing.reports over today, midnight in the help desk's timezone."""
    zone = ZoneInfo(deps.helpdesk_timezone)
    midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    return dict(reports.report(session, since=midnight.astimezone(now.tzinfo), now=now))
