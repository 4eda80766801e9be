"""Message and app_mention listeners: parse, then hand to the intake (judge, answer or ticket).

Bolt acknowledges events before these run (process_before_response=False), so Slack gets its
200 at once and never retries because an answer took a few seconds.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.listeners.answering import do_ignore
from bot.listeners.deps import Deps
from bot.listeners.intake import do_take_seller_message
from bot.listeners.parsing import Ignored, parse_message


def register(app: App, deps: Deps) -> None:
    def on_message(body: dict[str, Any]) -> None:
        parsed = parse_message(body)
        if isinstance(parsed, Ignored):
            do_ignore(deps, parsed)
        else:
            do_take_seller_message(deps, parsed)

    # a mention in a channel arrives twice (app_mention and message, same ts); the question
    # row's unique (channel, ts) makes the second one a no-op, whichever comes first
    app.event("message")(on_message)
    app.event("app_mention")(on_message)
