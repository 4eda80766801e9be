"""`comptoir db ...`: schema migrations."""

from __future__ import annotations

from collections.abc import Callable

import typer

from routing import migrate


def _move(ctx: typer.Context, to: Callable[[str, str], None], revision: str) -> None:
    """Migrate to `revision`; an unknown revision is a one-line error (exit 2), no traceback."""
    from alembic.util import CommandError

    from bot.cli import fail, settings_of

    settings = settings_of(ctx)
    settings.ensure_data_dir()
    try:
        to(settings.db_url, revision)
    except CommandError as exc:
        raise fail(f"{exc} (`comptoir db current` shows where the database is)") from exc
    typer.echo(f"database at revision {migrate.current(settings.db_url) or 'empty'}")


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
    app.add_typer(db, name="db")

    @db.command("upgrade")
    def upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
        """Bring the database schema up to REVISION (default: the newest)."""
        _move(ctx, migrate.upgrade, revision)

    @db.command("downgrade")
    def downgrade(ctx: typer.Context, revision: str = typer.Argument(...)) -> None:
        """Take the schema back to REVISION ("base" empties it)."""
        _move(ctx, migrate.downgrade, revision)

    @db.command("current")
    def current(ctx: typer.Context) -> None:
        """Print the schema revision the database is at ("empty" before `db upgrade`)."""
        from bot.cli import settings_of

        settings = settings_of(ctx)
        settings.ensure_data_dir()  # a fresh data dir: SQLite cannot open a file in no folder
        typer.echo(migrate.current(settings.db_url) or "empty")
