"""`comptoir demo`: a short conversation through the real app, printed as the seller sees it."""

from __future__ import annotations

import sys

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(ctx: typer.Context) -> None:
        """Play a seller conversation through the real app against a local Slack stand-in.

        Migrates, ingests the sample guidelines, serves the bot over HTTP and prints what
        sellers and staff see. No Slack workspace, server or API key needed.
        """
        from bot.cli import settings_of
        from bot.demo import run

        raise typer.Exit(run(settings_of(ctx), sys.stdout))
