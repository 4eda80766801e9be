"""Staff surfaces through the real endpoint: App Home, `/comptoir`, SLA alerts, the schedule."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

from bot import slack_payloads as sp
from bot.scheduler import build_scheduler, schedule_for
from bot.sla_job import run_sla_sweep
from tests.bot.conftest import (
    ACCOUNT_MANAGER,
    AGENT,
    HEAD,
    LEAD,
    SHOP_EN,
    SHOP_FR,
    SQLITE_ONLY,
    TRIAGE,
    Bot,
)

SUSPENDED = "Bonjour, mon compte est suspendu depuis ce matin, je ne peux plus vendre"
PAYOUT = "My payout for March is blocked"


def _open(bot: Bot, text: str, channel: str, number: int) -> None:
    bot.send(sp.message_event(channel=channel, text=text))
    bot.wait_ticket(lambda t: t.triage_ts is not None, number=number)


def _claim(bot: Bot, number: int, user: str) -> None:
    ticket = bot.wait_ticket(number=number)
    bot.send(
        sp.block_actions(
            action_id="ticket_claim",
            value=str(ticket.id),
            channel=TRIAGE,
            message_ts=str(ticket.triage_ts),
            user=user,
        )
    )
    bot.wait_ticket(lambda t: t.owner_id == user, number=number)


def test_app_home_shows_my_queue_and_the_teams_by_nearest_deadline(bot: Bot) -> None:
    _open(bot, PAYOUT, SHOP_EN, 1001)  # Level 2: first response in 4 business hours
    _open(bot, SUSPENDED, SHOP_FR, 1002)  # Level 3: one hour, around the clock
    _claim(bot, 1001, AGENT)

    bot.send(sp.app_home_opened(user=AGENT))
    view = bot.slack.wait_for(lambda: bot.slack.calls("views.publish"))[0].params
    assert view["user_id"] == AGENT
    blocks = view["view"]["blocks"]
    headers = [i for i, b in enumerate(blocks) if b["type"] == "header"]
    mine = json.dumps(blocks[headers[0] : headers[1]], ensure_ascii=False)
    team = json.dumps(blocks[headers[1] :], ensure_ascii=False)
    assert "Ma file" in mine and "*#1001*" in mine and "#1002" not in mine
    assert "File de l'équipe" in team
    # the Level 3 is due first whatever the hour (an hour around the clock vs business hours)
    assert team.index("*#1002*") < team.index("*#1001*")

    bot.send(sp.app_home_opened(user="U0SELLER1"))
    bot.slack.wait_for(lambda: len(bot.slack.calls("views.publish")) == 2)
    outsider = bot.slack.calls("views.publish")[1].params
    assert "réservé à l'équipe support" in json.dumps(outsider, ensure_ascii=False)
    assert "#1001" not in json.dumps(outsider)


@SQLITE_ONLY  # read-only queries the other tests cover on both databases
def test_slash_command_queue_ticket_and_stats_for_staff_only(bot: Bot) -> None:
    _open(bot, SUSPENDED, SHOP_FR, 1001)

    def ask(text: str, user: str = AGENT) -> dict:
        response = bot.send(sp.slash_command(text=text, user=user))
        assert response.status_code == 200
        return response.json()

    queue = ask("queue")
    assert queue["response_type"] == "ephemeral"
    assert "*#1001* · N3 · Maison Lune" in queue["text"]
    ticket = ask("ticket #1001")
    assert "Ticket #1001 · niveau 3 · Maison Lune" in ticket["text"]
    assert not any(b["type"] == "actions" for b in ticket["blocks"])
    assert "Pas de ticket #9999" in ask("ticket 9999")["text"]
    stats = ask("stats")["text"]
    assert stats.startswith("*Aujourd'hui*")
    assert "Tickets : 1 ouverts, 0 résolus" in stats
    assert "Première réponse : médiane — (0 tickets)" in stats  # nobody answered yet
    assert "(0 sur 0 questions)" in stats  # the one message was a problem: no question to deflect
    assert "/comptoir queue" in ask("n'importe quoi")["text"]  # unknown → the help line
    refused = ask("queue", user="U0SELLER1")
    assert "Seule l'équipe support" in refused["text"] and "#1001" not in refused["text"]


def test_slash_command_payload_is_form_encoded_like_slack_sends_it() -> None:
    body = sp.slash_command(text="ticket 12", user=AGENT)
    assert sp.encode(body)[1] == "application/x-www-form-urlencoded"
    fields = parse_qs(body)
    assert fields["command"] == ["/comptoir"] and fields["text"] == ["ticket 12"]


def test_sla_breach_is_told_in_the_card_thread_and_by_dm_along_the_chain(bot: Bot) -> None:
    _open(bot, SUSPENDED, SHOP_FR, 1001)  # Level 3: first response in 1 h, around the clock
    ticket = bot.wait_ticket()
    later = bot.runtime.deps.clock() + timedelta(hours=2)
    bot.slack.wait_for(lambda: bot.slack.posts(channel=ACCOUNT_MANAGER))  # the opening DM
    before = {u: len(bot.slack.posts(channel=u)) for u in (LEAD, ACCOUNT_MANAGER, HEAD)}

    alerts = run_sla_sweep(bot.runtime.deps, now=later)

    assert {(a.kind, a.target) for a in alerts} == {("breach", "first_response")}
    in_thread = bot.slack.wait_for(
        lambda: bot.slack.posts(channel=TRIAGE, thread_ts=ticket.triage_ts)
    )
    assert (
        "Ticket #1001 (niveau 3) : délai « première réponse » dépassé"
        in in_thread[0].params["text"]
    )
    for user in (LEAD, ACCOUNT_MANAGER, HEAD):  # Level 3: lead, account manager and head
        bot.slack.wait_for(lambda u=user: len(bot.slack.posts(channel=u)) == before[u] + 1)
    # fired once: a second sweep (another replica, or the next minute) tells nobody again
    assert run_sla_sweep(bot.runtime.deps, now=later + timedelta(minutes=1)) == []
    bot.close()
    assert len(bot.slack.posts(channel=TRIAGE, thread_ts=ticket.triage_ts)) == 1
    assert [k for k, _ in bot.ticket_events(ticket.id)].count("sla_breach") == 1


@SQLITE_ONLY
def test_sla_warning_goes_to_the_owner(bot: Bot) -> None:
    _open(bot, SUSPENDED, SHOP_FR, 1001)
    _claim(bot, 1001, AGENT)
    warn_at = bot.runtime.deps.clock() + timedelta(minutes=50)  # 75 % of one hour is 45 min
    alerts = run_sla_sweep(bot.runtime.deps, now=warn_at)
    assert [(a.kind, a.target) for a in alerts] == [("warning", "first_response")]
    dm = bot.slack.wait_for(lambda: bot.slack.posts(channel=AGENT))[0]
    assert "75 %" in dm.params["text"]
    bot.close()
    assert bot.slack.posts(channel=HEAD) == []  # a warning escalates to nobody


@SQLITE_ONLY
def test_schedule_table_runs_the_sweep_every_minute_without_skipping_late_runs(bot: Bot) -> None:
    schedule = schedule_for(bot.runtime.perf_config)  # the settings' file, resolved by wiring
    assert [job.id for job in schedule] == [
        "sla_sweep",
        "catch_up",
        "inbox_purge",
        "perf_evaluate",
        "nudges",
        "digests",
    ]
    scheduler = build_scheduler(bot.runtime.deps, schedule)
    try:
        scheduler.start(paused=True)
        job = scheduler.get_job("sla_sweep")
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time is None  # however late, a sweep still runs (once)
        assert job.trigger.interval == timedelta(minutes=1)
    finally:
        scheduler.shutdown(wait=False)
    # the runtime starts and stops its own scheduler
    bot.runtime.start_scheduler()
    assert bot.runtime.scheduler.running
    bot.close()
    assert not bot.runtime.scheduler.running
