"""`comptoir db ...`: schema migrations."""

from __future__ import annotations

import typer

from routing import migrate


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
    app.add_typer(db, name="db")

    @db.command("upgrade")
    def upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
        """Bring the database schema up to REVISION (default: the newest)."""
        from bot.cli import settings_of

        settings = settings_of(ctx)
        settings.ensure_data_dir()
        migrate.upgrade(settings.db_url, revision)
        typer.echo(f"database at revision {migrate.current(settings.db_url)}")

    @db.command("downgrade")
    def downgrade(ctx: typer.Context, revision: str = typer.Argument(...)) -> None:
        """Take the schema back to REVISION ("base" empties it)."""
        from bot.cli import settings_of

        settings = settings_of(ctx)
        migrate.downgrade(settings.db_url, revision)
        typer.echo(f"database at revision {migrate.current(settings.db_url)}")

    @db.command("current")
    def current(ctx: typer.Context) -> None:
        """Print the schema revision the database is at."""
        from bot.cli import settings_of

        typer.echo(migrate.current(settings_of(ctx).db_url) or "empty")
