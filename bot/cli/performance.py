"""`comptoir metrics …` (import, sample) and `comptoir perf …` (evaluate, show)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from routing.performance.metrics_import import ImportReport


def _config(settings: Any) -> Any:
    from bot.cli import fail
    from routing.performance.config import PerfConfigError, load_perf_config

    try:
        return load_perf_config(settings.perf_config_path)
    except PerfConfigError as exc:
        raise fail(str(exc)) from exc


def _day(value: str | None) -> date | None:
    from bot.cli import fail

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--date {value!r} is not a date (YYYY-MM-DD)") from exc


def _metrics_counts(report: ImportReport) -> str:
    return f"{report.imported} rows imported, {report.rejected} rejected"


def register(app: typer.Typer) -> None:
    metrics = typer.Typer(help="Daily seller metrics.", no_args_is_help=True)
    perf = typer.Typer(help="Seller performance evaluations.", no_args_is_help=True)
    app.add_typer(metrics, name="metrics")
    app.add_typer(perf, name="perf")

    @metrics.command("import")
    def import_(
        ctx: typer.Context,
        path: Path | None = typer.Argument(None, help="CSV, one row per seller and day"),
        sql: str | None = typer.Option(None, "--sql", help="SQLAlchemy URL of the warehouse"),
        query: Path | None = typer.Option(None, "--query", help="file holding the SELECT"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Import daily metrics; a day imported again replaces it. Bad rows are reported by
        line (by result row with --sql) and the rest imported. Exit 0: all imported; 1: some
        rows rejected; 2: nothing imported (the file or query itself is wrong)."""
        from bot.cli import database, fail, settings_of
        from bot.cli.sellers import show_errors
        from bot.terminal import Progress
        from routing.performance.metrics_import import (
            MetricsFileError,
            import_metrics_rows,
            import_metrics_sql,
            open_metrics_csv,
        )

        if (path is None) == (sql is None):
            raise fail("give either FILE.csv or --sql URL --query FILE.sql")
        if sql is not None and query is None:
            raise fail("--sql needs --query FILE.sql")
        now = datetime.now(UTC)
        try:
            if path is not None:
                source = open_metrics_csv(path)  # a bad file is told before the database opens
                with source, Progress("metrics import", total=source.size, unit="bytes") as bar:

                    def tick(report: ImportReport) -> None:
                        bar.update(source.bytes_read, _metrics_counts(report))

                    with database(settings_of(ctx)) as session:
                        report = import_metrics_rows(session, rows=source, now=now, progress=tick)
                    bar.done(_metrics_counts(report))
            else:
                assert query is not None and sql is not None
                try:
                    query_text = query.read_text("utf-8")
                except OSError as exc:
                    raise fail(f"{query}: cannot read ({exc.strerror})") from exc
                with Progress("metrics import", unit="rows", every=100_000) as bar:

                    def tick_rows(report: ImportReport, rows: int) -> None:
                        bar.update(rows, _metrics_counts(report))

                    with database(settings_of(ctx)) as session:
                        report = import_metrics_sql(
                            session, url=sql, query=query_text, now=now, progress=tick_rows
                        )
                    bar.done(_metrics_counts(report))
        except MetricsFileError as exc:
            raise fail(str(exc)) from exc
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            typer.echo(
                f"{report.imported} rows imported ({report.sellers} sellers, "
                f"{report.first_day} to {report.last_day}), {report.rejected} rejected, "
                f"{report.rows_per_second:.0f} rows/s"
            )
            show_errors(report.errors, report.rejected)
        if report.rejected:
            raise typer.Exit(1)

    @metrics.command("sample")
    def sample(
        sellers: int = typer.Option(200, "--sellers", min=1),
        days: int = typer.Option(90, "--days", min=1),
        out: Path = typer.Option(..., "--out", help="directory for sellers.csv and metrics.csv"),
        seed: int = typer.Option(7, "--seed"),
        end: str | None = typer.Option(None, "--end", help="last day (default: yesterday UTC)"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Write a realistic directory and metrics history (same seed, same files)."""
        from bot.terminal import Progress
        from routing.performance.sample import write_sample

        last = _day(end)
        with Progress("metrics sample") as progress:
            progress.step(f"writing {sellers} sellers x {days} days to {out}")
            info = write_sample(out, sellers=sellers, days=days, seed=seed, end=last)
            progress.done(f"{info.rows} rows")
        if as_json:
            typer.echo(json.dumps(info.to_json()))
            return
        typer.echo(
            f"{len(info.profiles)} sellers, {info.rows} rows from {info.first_day} to "
            f"{info.last_day}: {info.sellers_csv}, {info.metrics_csv}"
        )
        typer.echo("profiles: " + ", ".join(f"{k} {v}" for k, v in info.counts().items()))

    @perf.command("evaluate")
    def evaluate_(
        ctx: typer.Context,
        day_opt: str | None = typer.Option(
            None, "--date", help="day to evaluate (default: the last day with metrics)"
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Evaluate every seller for one day (and keep a weekly evaluation on the weekly day)."""
        from bot.cli import database, fail, settings_of
        from bot.terminal import Progress
        from routing.performance import evaluate

        settings = settings_of(ctx)
        config = _config(settings)
        asked = _day(day_opt)
        with Progress("perf evaluate") as progress, database(settings) as session:
            day = asked or evaluate.latest_metrics_day(session)
            if day is None:
                raise fail("no metrics imported yet: run `comptoir metrics import` first")
            progress.step(f"evaluating every seller for {day}")
            run = evaluate.evaluate_all(session, day=day, config=config)
            progress.done(f"{run.sellers} sellers in {run.seconds:.2f} s")
        if as_json:
            typer.echo(json.dumps(run.to_json(), ensure_ascii=False))
            return
        typer.echo(
            f"{run.day} ({' + '.join(run.kinds)}): {run.sellers} sellers in {run.seconds:.2f} s"
        )
        if run.backfilled:
            typer.echo(
                f"  history: {len(run.backfilled)} past weekly point(s) evaluated from the "
                f"stored metrics ({run.backfilled[0]} to {run.backfilled[-1]})"
            )
        typer.echo("  " + ", ".join(f"{k} {v}" for k, v in run.segments.items()))
        typer.echo(f"  {len(run.changed)} changed segment, {len(run.decliners)} declining")
        for c in run.changed[:20]:
            typer.echo(f"    {c['seller_id']}: {c['from']} -> {c['to']}")
        if run.decliners:
            typer.echo("  declining: " + ", ".join(run.decliners[:20]))

    @perf.command("show")
    def show_(
        ctx: typer.Context,
        seller_id: str = typer.Argument(...),
        day_opt: str | None = typer.Option(None, "--date"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """One seller: metric values, thresholds crossed, score, segment, trend, projection."""
        from bot.cli import database, fail, settings_of
        from routing.performance import evaluate
        from routing.performance.show import UnknownSellerError, show

        settings = settings_of(ctx)
        config = _config(settings)
        with database(settings) as session:
            day = _day(day_opt)
            if day is None and evaluate.latest(session, seller_id=seller_id) is None:
                day = evaluate.latest_metrics_day(session)
            try:
                perf_ = show(session, seller_id=seller_id, day=day, config=config)
            except UnknownSellerError as exc:
                raise fail(str(exc)) from exc
        if perf_ is None:
            raise fail(f"no evaluation or metrics for seller {seller_id!r} yet")
        if as_json:
            typer.echo(json.dumps(perf_.to_json(), ensure_ascii=False))
            return
        typer.echo(perf_.render())
