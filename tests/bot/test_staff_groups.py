"""Staff through the Slack user group (COMPTOIR_STAFF_USERGROUP): clicks arrive signed over HTTP,
the group is read from the Slack stand-in, tickets live in SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot import slack_payloads as sp
from bot import ticket_blocks as tb
from bot.server import start_http
from bot.slack_standin import SlackStandin
from bot.staff_groups import UsergroupMembers
from bot.wiring import build_runtime
from routing.db import make_engine, make_sessionmaker
from tests.bot.conftest import (
    AGENT,
    SHOP_FR,
    SQLITE_ONLY,
    TRIAGE,
    Bot,
    FakeClassifier,
    default_answerer,
    make_settings,
    seed_sellers,
)

GROUP = "S0STAFFGRP"
MEMBER = "U0GROUPMEM1"  # in the user group, not in the staff directory
OUTSIDER = "U0SELLER1"  # in neither
LIST = "usergroups.users.list"
PAYOUT = "Mon versement de mars est bloqué alors que la commission a été prélevée"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def start_group_bot(
    migrated_url: str, slack: SlackStandin, tmp_path: Path
) -> Iterator[Callable[..., Bot]]:
    engine = make_engine(migrated_url)
    seed_sellers(make_sessionmaker(engine))
    engine.dispose()
    started: list[Bot] = []

    def start(**overrides: Any) -> Bot:
        settings = make_settings(migrated_url, slack, tmp_path, triage_channel=TRIAGE, **overrides)
        runtime = build_runtime(
            settings,
            answerer=default_answerer(),
            classifier=FakeClassifier(),
            run_migrations=False,
            slack_timeout=0.5,
            worker_idle_poll=0.2,
        )
        runtime.outbox_worker.start()
        bot = Bot(
            runtime=runtime, server=start_http(runtime.app, health=runtime.health), slack=slack
        )
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.close()


def _ticket(bot: Bot) -> Any:
    assert bot.send(sp.message_event(channel=SHOP_FR, text=PAYOUT)).status_code == 200
    return bot.wait_ticket(lambda t: t.triage_ts is not None)


def _click(bot: Bot, ticket: Any, user: str, action_id: str = tb.ACTION_CLAIM) -> None:
    body = sp.block_actions(
        action_id=action_id,
        value=str(ticket.id),
        channel=TRIAGE,
        message_ts=str(ticket.triage_ts),
        user=user,
        block_id=f"ticket:{ticket.id}",
    )
    assert bot.send(body).status_code == 200


@SQLITE_ONLY
def test_a_group_member_claims_and_an_outsider_is_refused(
    start_group_bot: Callable[..., Bot], slack: SlackStandin
) -> None:
    slack.set_usergroup(GROUP, [MEMBER, "U0OTHER0001"])
    bot = start_group_bot(staff_usergroup=GROUP)
    ticket = _ticket(bot)

    _click(bot, ticket, OUTSIDER)
    refusal = slack.wait_for(lambda: slack.ephemerals(user=OUTSIDER))[0]
    assert "Seule l'équipe support" in refusal.params["text"]
    assert bot.wait_ticket().owner_id is None

    _click(bot, ticket, MEMBER)
    claimed = bot.wait_ticket(lambda t: t.owner_id == MEMBER)
    assert claimed.status == "claimed"
    update = slack.wait_for(lambda: slack.updates(channel=TRIAGE, ts=ticket.triage_ts))[0]
    assert f"pris par <@{MEMBER}>" in update.params["text"]
    bot.close()
    assert ("claimed", MEMBER) in bot.ticket_events(ticket.id)
    assert slack.ephemerals(user=MEMBER) == []
    assert {c.get("usergroup") for c in slack.requests(LIST)} == {GROUP}


@SQLITE_ONLY
def test_the_group_is_read_once_per_ttl_and_again_after_it(
    start_group_bot: Callable[..., Bot], slack: SlackStandin
) -> None:
    slack.set_usergroup(GROUP, [MEMBER])
    bot = start_group_bot(staff_usergroup=GROUP)
    group = bot.runtime.deps.staff_group
    assert isinstance(group, UsergroupMembers) and group.ttl == 300.0
    clock = FakeClock()
    group.clock = clock
    ticket = _ticket(bot)

    # the member claims, the outsider clicks twice: three staff checks, one call to Slack
    _click(bot, ticket, MEMBER)
    bot.wait_ticket(lambda t: t.owner_id == MEMBER)
    _click(bot, ticket, OUTSIDER)
    _click(bot, ticket, OUTSIDER, tb.ACTION_WAIT)
    slack.wait_for(lambda: len(slack.ephemerals(user=OUTSIDER)) == 2)
    assert len(slack.requests(LIST)) == 1

    # the outsider joins the group; within the ttl the old list still holds
    slack.set_usergroup(GROUP, [MEMBER, OUTSIDER])
    clock.now += 299.0
    _click(bot, ticket, OUTSIDER, tb.ACTION_RESOLVE)
    slack.wait_for(lambda: len(slack.ephemerals(user=OUTSIDER)) == 3)
    assert len(slack.requests(LIST)) == 1

    # past the ttl the group is read again and the newcomer may act
    clock.now += 2.0
    _click(bot, ticket, OUTSIDER, tb.ACTION_WAIT)
    bot.wait_ticket(lambda t: t.status == "waiting_on_seller")
    assert len(slack.requests(LIST)) == 2
    assert len(slack.ephemerals(user=OUTSIDER)) == 3


@SQLITE_ONLY
def test_without_the_setting_the_group_is_never_read(
    start_group_bot: Callable[..., Bot], slack: SlackStandin
) -> None:
    slack.set_usergroup(GROUP, [MEMBER])
    bot = start_group_bot()
    assert bot.runtime.deps.staff_group is None
    ticket = _ticket(bot)
    _click(bot, ticket, MEMBER)
    slack.wait_for(lambda: slack.ephemerals(user=MEMBER))
    _click(bot, ticket, AGENT)  # directory staff still act
    bot.wait_ticket(lambda t: t.owner_id == AGENT)
    bot.send(sp.app_home_opened(user=MEMBER))
    assert bot.send(sp.slash_command(text="queue", user=MEMBER)).status_code == 200
    slack.wait_for(lambda: slack.calls("views.publish"))
    bot.close()
    assert slack.requests(LIST) == []


# --- the cache alone, against the stand-in (no bot needed) ---------------------------------------


def _members(slack: SlackStandin, clock: FakeClock) -> UsergroupMembers:
    client = WebClient(token=slack.token, base_url=slack.url, timeout=0.5, retry_handlers=[])
    return UsergroupMembers(client, GROUP, ttl=60.0, clock=clock)


def test_a_slack_error_keeps_the_last_known_members(slack: SlackStandin) -> None:
    clock = FakeClock()
    group = _members(slack, clock)
    slack.set_usergroup(GROUP, [MEMBER])
    assert group.members() == {MEMBER}

    for fail in (
        lambda: slack.error_next(error="ratelimited", methods=[LIST]),
        lambda: slack.fail_next(status=503, methods=[LIST]),
        lambda: slack.hang_next(seconds=2.0, methods=[LIST]),  # past the 0.5 s client timeout
    ):
        fail()
        clock.now += 61.0
        assert group.members() == {MEMBER}
    assert [c.outcome for c in slack.requests(LIST)] == [
        "ok",
        "error:ratelimited",
        "http_503",
        "hung",
    ]
    # a failure is retried sooner than the ttl (30 s), and a success replaces the list
    slack.set_usergroup(GROUP, [AGENT])
    clock.now += 29.0
    assert group.members() == {MEMBER}
    clock.now += 1.0
    assert group.members() == {AGENT}
    assert len(slack.requests(LIST)) == 5


def test_an_error_before_any_success_grants_nobody(slack: SlackStandin) -> None:
    clock = FakeClock()
    group = _members(slack, clock)
    # bad input: a group Slack does not know
    assert group.members() == frozenset()
    assert slack.requests(LIST)[0].outcome == "error:no_such_subteam"
    slack.set_usergroup(GROUP, [MEMBER])
    slack.fail_next(status=500, methods=[LIST])
    clock.now += 30.0
    assert group.members() == frozenset()
    clock.now += 30.0
    assert group.members() == {MEMBER}


def test_a_slow_slack_answer_does_not_hold_the_caller(slack: SlackStandin) -> None:
    # /comptoir replies in its ack, which Slack drops after 3 s: a caller waits for a
    # refresh at most max_wait, keeps the last known list, and the refresh lands later.
    clock = FakeClock()
    client = WebClient(token=slack.token, base_url=slack.url, timeout=5.0, retry_handlers=[])
    group = UsergroupMembers(client, GROUP, ttl=60.0, max_wait=0.3, clock=clock)
    slack.set_usergroup(GROUP, [MEMBER])
    assert group.members() == {MEMBER}

    slack.set_usergroup(GROUP, [MEMBER, OUTSIDER])
    slack.slow_next(seconds=1.5, methods=[LIST])
    clock.now += 61.0
    # the old list is the proof: a caller that waited the 1.5 s out would get the new one
    assert group.members() == {MEMBER}
    assert group.members() == {MEMBER}  # a second caller does not ask Slack again
    slack.wait_for(lambda: group.members() == {MEMBER, OUTSIDER}, timeout=5.0)
    assert len(slack.requests(LIST)) == 2
