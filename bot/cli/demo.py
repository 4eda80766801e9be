"""`comptoir demo`: a short conversation through the real app, printed as the seller sees it."""

from __future__ import annotations

import sys

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(ctx: typer.Context) -> None:
        """Migrate, ingest the sample guidelines, start the bot against a local Slack stand-in
        and play a conversation in French and English (no Slack workspace or API key needed)."""
        from bot.cli import settings_of
        from bot.demo import run

        raise typer.Exit(run(settings_of(ctx), sys.stdout))
