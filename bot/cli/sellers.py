"""`comptoir sellers import FILE.csv`: the seller directory."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from routing.sellers import (
    DirectoryFileError,
    ImportReport,
    do_import_directory,
    open_directory_csv,
)

SHOWN_ERRORS = 50  # rejected lines written to stderr; --json lists up to KEPT_ERRORS


def register(app: typer.Typer) -> None:
    sellers = typer.Typer(help="The seller directory.", no_args_is_help=True)
    app.add_typer(sellers, name="sellers")

    @sellers.command("import")
    def import_(
        ctx: typer.Context,
        path: Path = typer.Argument(
            ..., help="CSV: seller_id,name,channel_id,account_manager_id,tier,language"
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Create or update sellers; bad rows are reported by line and the rest imported.
        Exit 0: all imported; 1: some rows rejected; 2: nothing imported (the file itself is
        wrong: missing, not CSV, semicolon-separated, missing columns)."""
        from bot.cli import database, fail, settings_of
        from bot.terminal import Progress

        settings = settings_of(ctx)
        settings.ensure_data_dir()
        try:
            source = open_directory_csv(path)
        except DirectoryFileError as exc:
            raise fail(str(exc)) from exc
        with source, Progress("sellers import", total=source.size, unit="bytes") as progress:

            def tick(report: ImportReport) -> None:
                progress.update(source.bytes_read, _counts(report))

            with database(settings) as session:
                report = do_import_directory(session, source, progress=tick)
            progress.done(_counts(report))
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            typer.echo(_counts(report))
            show_errors(report.errors, report.rejected)
        if report.rejected:
            raise typer.Exit(1)


def _counts(report: ImportReport) -> str:
    return (
        f"{report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.rejected} rejected"
    )


def show_errors(errors: list[dict[str, object]], rejected: int) -> None:
    """The first rejected lines on stderr, and how many more there are."""
    for err in errors[:SHOWN_ERRORS]:
        typer.echo(f"  line {err['line']}: {err['error']}", err=True)
    if rejected > SHOWN_ERRORS:
        listed = f"--json lists the first {len(errors)}"
        typer.echo(f"  … and {rejected - SHOWN_ERRORS} more ({listed})", err=True)
