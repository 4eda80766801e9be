"""The `comptoir` command. Settings are built once here and passed down."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from bot.settings import Settings, SettingsError, settings_problem

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(
    help="Comptoir: the Slack help desk for marketplace sellers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each sub-command lives in its own module and registers itself on `app`.
_COMMAND_MODULES = (
    "db",
    "sellers",
    "kb",
    "ask",
    "serve",
    "demo",
    "classify",
    "helpdesk",
    "performance",
    "nudges",
    "worker",
    "jobs",
)


@app.callback()
def _root(ctx: typer.Context, verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        ctx.obj = Settings()
    except ValidationError as exc:  # a bad COMPTOIR_* value: say which, without a traceback
        raise fail(settings_problem(exc)) from None


def settings_of(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@contextmanager
def database(settings: Settings, *, write: bool = True) -> Iterator[Session]:
    """The configured database, migrated first, as one session: a transaction committed on
    success when `write`, else a read that commits nothing. The engine is closed either way."""
    from routing import migrate
    from routing.db import make_engine, make_sessionmaker, transaction

    settings.ensure_data_dir()
    migrate.upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        factory = make_sessionmaker(engine)
        if write:
            with transaction(factory) as session:
                yield session
        else:
            with factory() as session:
                yield session
    finally:
        engine.dispose()


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"comptoir: {message}", err=True)
    return typer.Exit(code)


for _name in _COMMAND_MODULES:
    importlib.import_module(f"bot.cli.{_name}").register(app)


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        raise SystemExit(f"comptoir: {exc}") from exc
