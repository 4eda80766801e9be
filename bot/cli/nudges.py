"""`comptoir nudges preview` and `comptoir digests preview`: exactly what would be posted,
rendered by the same builders as the job, without posting and without recording anything."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.orm import Session

from bot.perf_blocks import digest_message, nudge_message
from routing.nudges import Retriever, build_nudges
from routing.performance.config import PerfConfig


def _config(settings: Any) -> PerfConfig:
    from bot.cli import fail
    from routing.performance.config import PerfConfigError, load_perf_config

    try:
        return load_perf_config(settings.perf_config_path)
    except PerfConfigError as exc:
        raise fail(str(exc)) from exc


def _day(value: str | None, config: PerfConfig) -> date:
    from bot.cli import fail

    if value is None:
        return datetime.now(UTC).astimezone(config.schedules.tz).date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--date {value!r} is not a date (YYYY-MM-DD)") from exc


def preview_nudges(
    session: Session, *, kb: Retriever, config: PerfConfig, day: date, seller_id: str | None
) -> list[dict[str, Any]]:
    """What the nudges job would post for `day`: channel, the nudge's facts, the message."""
    return [
        {"channel": n.channel_id, "nudge": n.to_json(), "message": nudge_message(n)}
        for n in build_nudges(session, day=day, config=config, kb=kb, seller_id=seller_id)
    ]


def register(app: typer.Typer) -> None:
    nudges = typer.Typer(help="Weekly performance nudges to sellers.", no_args_is_help=True)
    digests = typer.Typer(help="Daily digests to account managers.", no_args_is_help=True)
    app.add_typer(nudges, name="nudges")
    app.add_typer(digests, name="digests")

    @nudges.command("preview")
    def nudges_preview(
        ctx: typer.Context,
        seller: str | None = typer.Option(None, "--seller", help="one seller id"),
        day: str | None = typer.Option(None, "--date", help="YYYY-MM-DD (default: today)"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """The nudges the weekly job would post (sellers already nudged that week excluded).

        Exit 2 for a seller id that is not in the directory; a known seller with nothing to
        post is exit 0, and the text output says why there is nothing.
        """
        from bot.cli import database, fail, settings_of
        from bot.cli.kb import open_knowledge_base
        from routing.models import Seller

        settings = settings_of(ctx)
        config = _config(settings)
        when = _day(day, config)
        kb = open_knowledge_base(settings)
        with database(settings, write=False) as session:
            known = session.get(Seller, seller) if seller is not None else None
            if seller is not None and known is None:
                raise fail(f"unknown seller {seller} (not in the seller directory)")
            opted_out = known is not None and known.nudges_opt_out
            # without a guideline index the nudges go without a quote (routing.nudges)
            items = preview_nudges(session, kb=kb, config=config, day=when, seller_id=seller)
        if as_json:
            typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
            return
        if not items and opted_out:
            typer.echo(f"no nudge to post: {seller} has opted out of nudges")
        elif not items and seller is not None:
            typer.echo(
                f"no nudge to post to {seller} for the week of {when.isoformat()}: "
                "already nudged that week, no recent evaluation, or nothing to say"
            )
        elif not items:
            typer.echo(f"no nudge to post for the week of {when.isoformat()}")
        for item in items:
            typer.echo(f"── {item['channel']} ({item['nudge']['seller_id']})")
            typer.echo(item["message"]["text"])
            typer.echo("")

    @digests.command("preview")
    def digests_preview(
        ctx: typer.Context,
        am: str = typer.Option(..., "--am", help="the account manager's Slack user id"),
        day: str | None = typer.Option(None, "--date", help="YYYY-MM-DD (default: today)"),
        as_json: bool = typer.Option(False, "--json"),
        chart: Path | None = typer.Option(None, "--chart", help="write the chart PNG here"),
    ) -> None:
        """The digest this account manager would get (their own sellers only).

        Exit 2 when no seller of the directory has this account manager.
        """
        from bot.cli import database, fail, settings_of
        from routing.digests import account_managers, build_digest

        settings = settings_of(ctx)
        config = _config(settings)
        when = _day(day, config)
        now = datetime.now(UTC)
        with database(settings, write=False) as session:
            if am not in account_managers(session):
                raise fail(
                    f"no account manager {am} in the seller directory "
                    "(the account_manager_id column of `comptoir sellers import`)"
                )
            digest = build_digest(
                session,
                account_manager_id=am,
                day=when,
                now=now,
                config=config,
                language=settings.staff_language,
            )
        message = digest_message(
            digest, language=settings.staff_language, timezone=settings.helpdesk_timezone, now=now
        )
        chart_written = None
        if chart is not None and digest.chart is not None:
            chart.parent.mkdir(parents=True, exist_ok=True)
            chart.write_bytes(digest.chart.png)
            chart_written = str(chart)
        elif chart is not None:
            typer.echo("no chart: no seller of this portfolio needs attention", err=True)
        if as_json:
            out = {"digest": digest.to_json(), "message": message, "chart_path": chart_written}
            typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
            return
        typer.echo(message["text"])
        if chart_written:
            typer.echo(f"\nchart: {chart_written}")
