"""`comptoir sellers import FILE.csv`: the seller directory."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from routing.sellers import DirectoryFileError, do_import_directory, read_directory_csv


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
        """Create or update sellers; bad rows are reported by line and the rest imported."""
        from bot.cli import database, fail, settings_of

        settings = settings_of(ctx)
        settings.ensure_data_dir()
        try:
            rows = read_directory_csv(path)
        except DirectoryFileError as exc:
            raise fail(str(exc)) from exc
        with database(settings) as session:
            report = do_import_directory(session, rows)
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            typer.echo(
                f"{report.created} created, {report.updated} updated, "
                f"{report.unchanged} unchanged, {len(report.errors)} rejected"
            )
            for err in report.errors:
                typer.echo(f"  line {err['line']}: {err['error']}", err=True)
        if report.errors:
            raise typer.Exit(1)
