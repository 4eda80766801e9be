"""The `comptoir` command. Its configuration is resolved here, once, and passed down: the
Settings at start, the SLA policy and the performance configuration the first time a command
asks for them (`policy_of`, `perf_config_of`), from the files the Settings name or, when they
name none, the packaged defaults. Nothing below reads a default of its own."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from bot.settings import Settings, SettingsError, settings_problem

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from routing.performance.config import PerfConfig
    from routing.sla_policy import SlaPolicy

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
        ctx.obj = Configuration(Settings())
    except ValidationError as exc:  # a bad COMPTOIR_* value: say which, without a traceback
        raise fail(settings_problem(exc)) from None


@dataclass
class Configuration:
    """The command's configuration: the Settings, and the files they name, each read at most
    once and only by a command that needs it (a bad policy file does not stop `kb ingest`)."""

    settings: Settings
    _policy: SlaPolicy | None = None
    _perf_config: PerfConfig | None = None

    def policy(self) -> SlaPolicy:
        """COMPTOIR_SLA_POLICY_PATH, or the packaged defaults; a bad file: exit 2, one line."""
        if self._policy is None:
            from routing.sla_policy import PolicyError, load_policy

            path = self.settings.sla_policy_path
            try:
                self._policy = load_policy(path)
            except PolicyError as exc:
                raise fail(f"COMPTOIR_SLA_POLICY_PATH: {exc}") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise fail(f"COMPTOIR_SLA_POLICY_PATH: {path}: cannot read ({exc})") from None
        return self._policy

    def perf_config(self) -> PerfConfig:
        """COMPTOIR_PERF_CONFIG_PATH, or the packaged defaults; a bad file: exit 2, one line."""
        if self._perf_config is None:
            from routing.performance.config import PerfConfigError, load_perf_config

            try:
                self._perf_config = load_perf_config(self.settings.perf_config_path)
            except PerfConfigError as exc:
                raise fail(f"COMPTOIR_PERF_CONFIG_PATH: {exc}") from None
        return self._perf_config


def configuration_of(ctx: typer.Context) -> Configuration:
    found = ctx.find_object(Configuration)
    assert found is not None, "the root callback sets the configuration"
    return found


def settings_of(ctx: typer.Context) -> Settings:
    return configuration_of(ctx).settings


def policy_of(ctx: typer.Context) -> SlaPolicy:
    """The operator's SLA policy, read once for the command."""
    return configuration_of(ctx).policy()


def perf_config_of(ctx: typer.Context) -> PerfConfig:
    """The operator's performance configuration, read once for the command."""
    return configuration_of(ctx).perf_config()


@contextmanager
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """The configured database, migrated first, as a session factory for a command that
    makes its own transactions. The engine is closed on the way out."""
    from routing import migrate
    from routing.db import make_engine, make_sessionmaker

    settings.ensure_data_dir()
    migrate.upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@contextmanager
def database(settings: Settings, *, write: bool = True) -> Iterator[Session]:
    """The configured database, migrated first, as one session: a transaction committed on
    success when `write`, else a read that commits nothing. The engine is closed either way."""
    from routing.db import transaction

    with sessions(settings) as factory:
        if write:
            with transaction(factory) as session:
                yield session
        else:
            with factory() as session:
                yield session


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
