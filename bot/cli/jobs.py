"""`comptoir jobs`: what the schedule ran, for which period, and how it ended."""

from __future__ import annotations

import json

import typer

from routing import job_runs


def register(app: typer.Typer) -> None:
    @app.command("jobs")
    def jobs(
        ctx: typer.Context,
        job: str | None = typer.Option(None, "--job", help="one job id, e.g. perf_evaluate"),
        status: str | None = typer.Option(
            None, "--status", help=f"one of {', '.join(job_runs.STATUSES)}"
        ),
        limit: int = typer.Option(20, "--limit", min=1, help="most recent runs first"),
        as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    ) -> None:
        """The scheduled runs recorded in job_runs (a failed run shows its error's last line).
        Times in the help desk's timezone; --json gives ISO-8601 UTC instants."""
        from bot.cli import database, fail, settings_of
        from routing.calendars import zone

        try:
            tz = zone(settings_of(ctx).helpdesk_timezone)
        except ValueError as exc:
            raise fail(f"COMPTOIR_HELPDESK_TIMEZONE: {exc}") from None
        if job is not None:
            from bot.cli import perf_config_of
            from bot.scheduler import schedule_for

            known = [j.id for j in schedule_for(perf_config_of(ctx))]
            if job not in known:
                raise fail(f"unknown job {job!r}; the jobs are {', '.join(known)}")
        if status is not None and status not in job_runs.STATUSES:
            raise fail(f"--status must be one of {', '.join(job_runs.STATUSES)}, not {status!r}")
        with database(settings_of(ctx), write=False) as session:
            runs = job_runs.list_runs(session, job_id=job, status=status, limit=limit)
        for run in runs:
            row = {
                "job": run.job_id,
                "period": run.period_key,
                "status": run.status,
                "started_at": run.started_at.isoformat(),
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "owner": run.owner,
                "error": run.error,
            }
            if as_json:
                typer.echo(json.dumps(row))
                continue
            last_error = (run.error or "").strip().splitlines()[-1:] or [""]
            typer.echo(
                f"{run.job_id:<14} {run.period_key:<10} {run.status:<8} "
                f"{run.started_at.astimezone(tz):%Y-%m-%d %H:%M}  {run.owner}  "
                f"{last_error[0][:100]}".rstrip()
            )
        if not runs and not as_json:
            typer.echo("no scheduled run recorded", err=True)
