"""The Bolt apps: the HTTP one (verify, store or handle, ack) and the worker's (same listeners)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App
from slack_bolt.middleware.authorization.single_team_authorization import (
    SingleTeamAuthorization,
)
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.listeners import Deps, register


def create_app(
    *,
    client: WebClient,
    signing_secret: str,
    deps: Deps,
    executor: Executor | None = None,
    intake: Callable[..., Any] | None = None,
) -> App:
    """The app Slack talks to, over `client` (its token and base URL: real Slack or the stand-in).

    process_before_response=False: Slack gets its 200 before any work starts (its 3-second
    deadline holds however slow a listener is); a listener then runs on `executor`.
    Bolt checks every request's signature and timestamp (older than 5 minutes is refused),
    and calls auth.test once here to learn the bot's own ids, so its own posts are ignored.
    `intake` (bot.inbox.inbox_middleware) is added after those built-in middlewares, which
    App() installs first: only verified, authorized deliveries that are not the bot's own
    reach it; it stores seller messages for the worker and acknowledges them itself.
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
    if intake is not None:
        app.middleware(intake)
    register(app, deps)
    return app


def create_worker_app(
    *, client: WebClient, signing_secret: str, deps: Deps, identity_from: App | None = None
) -> App:
    """The same listeners, for bodies taken from the inbox: no signature check (the body was
    verified when it arrived; its timestamp would be stale on a retry), and listeners run
    synchronously in the caller's thread (process_before_response=True), so the worker knows
    when a delivery is handled and whether it failed.

    `identity_from`: an app of the same process whose auth.test result is reused, so the bot
    asks Slack who it is once per process, not once per app.
    """
    known = _auth_test_result(identity_from) if identity_from is not None else None
    app = App(
        client=client,
        signing_secret=signing_secret,
        process_before_response=True,
        request_verification_enabled=False,
        token_verification_enabled=known is None,
        ignoring_self_events_enabled=True,
        name="comptoir-worker",
    )
    if known is not None:
        for middleware in app._middleware_list:  # Bolt offers no public way to pass it in
            if isinstance(middleware, SingleTeamAuthorization):
                middleware.auth_test_result = known
    register(app, deps)
    return app


def _auth_test_result(app: App) -> SlackResponse | None:
    for middleware in app._middleware_list:
        if isinstance(middleware, SingleTeamAuthorization):
            return middleware.auth_test_result
    return None
