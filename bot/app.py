"""The Bolt app: signature checks, ack-first dispatch, and Comptoir's listeners."""

from __future__ import annotations

from concurrent.futures import Executor

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import Deps, register


def create_app(
    *, client: WebClient, signing_secret: str, deps: Deps, executor: Executor | None = None
) -> App:
    """A Bolt app over `client` (its token and base URL: real Slack or the stand-in).

    process_before_response=False: Slack gets its 200 before any work starts (its 3-second
    deadline holds however slow an answer is); the listener then runs on `executor`.
    Bolt checks every request's signature and timestamp (older than 5 minutes is refused),
    and calls auth.test once here to learn the bot's own ids, so its own posts are ignored.
    """
    app = App(
        client=client,
        signing_secret=signing_secret,
        process_before_response=False,
        request_verification_enabled=True,
        ignoring_self_events_enabled=True,
        listener_executor=executor,
        name="comptoir",
    )
    register(app, deps)
    return app
