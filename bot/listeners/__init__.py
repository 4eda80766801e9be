"""Bolt listeners, registered per kind as in Slack's starter app; each stays thin."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.listeners import actions, events, home, triage, vetted
from bot.listeners.deps import Deps

logger = logging.getLogger(__name__)

__all__ = ["Deps", "register"]


def register(app: App, deps: Deps) -> None:
    events.register(app, deps)
    actions.register(app, deps)
    triage.register(app, deps)
    home.register(app, deps)
    vetted.register(app, deps)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        # the seller-facing apology is posted by the listener that knows the thread;
        # this catches what escaped it, so nothing fails silently
        logger.exception(
            "unhandled error in a Slack listener (event %s)", body.get("event_id"), exc_info=error
        )
