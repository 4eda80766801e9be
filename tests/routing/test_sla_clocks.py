"""SLA clocks with frozen time (explicit `now`), on SQLite and PostgreSQL: weekends, holidays,
DST, pause/resume, reopen, re-level, restart, a deadline missed while down, two sweepers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from routing import migrate, sla_clocks, tickets
from routing.db import make_engine, make_sessionmaker, transaction
from routing.models import SlaClock, TicketEvent
from tests.routing.helpdesk_fixtures import POLICY, add_seller, open_ticket, paris


def _sweep(factory: sessionmaker[Session], now: datetime) -> list[sla_clocks.SlaAlert]:
    with transaction(factory) as s:
        return sla_clocks.sweep(s, now=now, policy=POLICY)


def _fired(alerts: list[sla_clocks.SlaAlert]) -> list[tuple[str, str]]:
    return [(a.kind, a.target) for a in alerts]


def _clock(s: Session, ticket_id: int, target: str) -> SlaClock:
    clocks = [c for c in tickets.clocks_of(s, ticket_id=ticket_id) if c.target == target]
    return clocks[-1]


def test_weekend_warning_then_breach_each_once(session_factory: sessionmaker[Session]) -> None:
    friday_17 = paris(2026, 3, 6, 17)
    with transaction(session_factory) as s:
        ticket = open_ticket(s, add_seller(s), now=friday_17, level=1)
        fr = _clock(s, ticket.id, "first_response")
        # 2 business hours from Friday 17:00: one hour Friday, one hour Monday → 10:00.
        assert fr.deadline_at == paris(2026, 3, 9, 10)
        assert fr.warn_at == paris(2026, 3, 9, 9, 30)
        ticket_id, number = ticket.id, ticket.number
    assert _sweep(session_factory, paris(2026, 3, 7, 12)) == []  # Saturday: nothing due
    alerts = _sweep(session_factory, paris(2026, 3, 9, 9, 31))
    assert _fired(alerts) == [("warning", "first_response")]
    assert alerts[0].number == number and alerts[0].escalate_to == []
    assert alerts[0].account_manager_id == "U0AM00001" and alerts[0].seller_id == "S1"
    assert _sweep(session_factory, paris(2026, 3, 9, 9, 45)) == []
    alerts = _sweep(session_factory, paris(2026, 3, 9, 10, 1))
    assert _fired(alerts) == [("breach", "first_response")]
    assert alerts[0].escalate_to == ["helpdesk_lead"]
    assert alerts[0].deadline_at == paris(2026, 3, 9, 10)
    assert alerts[0].to_json()["deadline_at"] == paris(2026, 3, 9, 10).isoformat()
    assert _sweep(session_factory, paris(2026, 3, 9, 11)) == []
    with transaction(session_factory) as s:
        # the clocks record what fired; whom it was told to is routing.escalation's event
        kinds = [e.kind for e in tickets.events_of(s, ticket_id=ticket_id)]
        assert kinds == ["opened", "sla_warning", "sla_breach"]
        breach = tickets.events_of(s, ticket_id=ticket_id)[-1]
        assert breach.data["target"] == "first_response" and breach.actor_id is None


def test_french_public_holiday_is_skipped(session_factory: sessionmaker[Session]) -> None:
    # Thursday 30 April 2026, 17:00; Friday 1 May is Fête du Travail, then the weekend.
    with transaction(session_factory) as s:
        ticket = open_ticket(s, add_seller(s), now=paris(2026, 4, 30, 17), level=1)
        assert _clock(s, ticket.id, "first_response").deadline_at == paris(2026, 5, 4, 10)
        # 1 business day (9 h) from Thursday 17:00 → Monday 17:00.
        assert _clock(s, ticket.id, "resolution").deadline_at == paris(2026, 5, 4, 17)


def test_daylight_saving_change(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        seller = add_seller(s)
        # Friday 27 March 2026 16:00 CET; clocks go forward on Sunday 29 March.
        business = open_ticket(s, seller, now=paris(2026, 3, 27, 16), level=2, thread_ts="1.1")
        # 4 business hours: 2 on Friday, 2 on Monday → 11:00 CEST, which is 09:00 UTC.
        deadline = _clock(s, business.id, "first_response").deadline_at
        assert deadline == paris(2026, 3, 30, 11)
        assert deadline == datetime(2026, 3, 30, 9, tzinfo=UTC)
        # Level 3 runs around the clock: 24 real hours across the change, 25 on the wall.
        start = datetime(2026, 3, 28, 12, tzinfo=UTC)
        urgent = open_ticket(s, seller, now=start, level=3, thread_ts="1.2")
        assert _clock(s, urgent.id, "resolution").deadline_at == start + timedelta(hours=24)
        # Autumn: Friday 23 October 17:00 CEST (15:00 UTC), 2 business hours → Monday 26
        # October 10:00 CET, which is 09:00 UTC (the wall clock went back an hour).
        autumn = open_ticket(s, seller, now=paris(2026, 10, 23, 17), level=1, thread_ts="1.3")
        assert paris(2026, 10, 23, 17) == datetime(2026, 10, 23, 15, tzinfo=UTC)
        deadline = _clock(s, autumn.id, "first_response").deadline_at
        assert deadline == datetime(2026, 10, 26, 9, tzinfo=UTC)


def test_pause_carries_used_time_and_resume_reschedules(
    session_factory: sessionmaker[Session],
) -> None:
    mon_10 = paris(2026, 3, 2, 10)
    with transaction(session_factory) as s:
        ticket = open_ticket(s, add_seller(s), now=mon_10, level=2)
        tickets.do_wait_on_seller(
            s, ticket_id=ticket.id, user_id="U0AGENT01", now=paris(2026, 3, 2, 11), policy=POLICY
        )
        fr = _clock(s, ticket.id, "first_response")
        assert (fr.status, fr.consumed_seconds, fr.next_fire_at) == ("paused", 3600.0, None)
        ticket_id = ticket.id
    # Paused: the original deadline (14:00) passes and nothing fires.
    assert _sweep(session_factory, paris(2026, 3, 3, 9, 30)) == []
    with transaction(session_factory) as s:
        tickets.do_seller_replied(
            s, ticket_id=ticket_id, now=paris(2026, 3, 3, 10), policy=POLICY, slack_ts="9.9"
        )
        fr = _clock(s, ticket_id, "first_response")
        # 3 hours left from Tuesday 10:00; the warning at 75 % (3 h used) is at 12:00.
        assert (fr.status, fr.deadline_at, fr.warn_at) == (
            "running",
            paris(2026, 3, 3, 13),
            paris(2026, 3, 3, 12),
        )
        # No first response yet: the seller's message starts no next_response clock.
        assert {c.target for c in tickets.clocks_of(s, ticket_id=ticket_id)} == {
            "first_response",
            "resolution",
        }
    assert _fired(_sweep(session_factory, paris(2026, 3, 3, 12, 1))) == [
        ("warning", "first_response")
    ]
    with transaction(session_factory) as s:
        tickets.do_wait_on_seller(
            s,
            ticket_id=ticket_id,
            user_id="U0AGENT01",
            now=paris(2026, 3, 3, 12, 30),
            policy=POLICY,
        )
        tickets.do_seller_replied(s, ticket_id=ticket_id, now=paris(2026, 3, 4, 9), policy=POLICY)
    # Resumed after its warning fired: only the breach is left, at 09:30 Wednesday.
    assert _sweep(session_factory, paris(2026, 3, 4, 9, 20)) == []
    assert _fired(_sweep(session_factory, paris(2026, 3, 4, 9, 31))) == [
        ("breach", "first_response")
    ]


def test_staff_reply_meets_the_clock_and_next_response_starts_on_seller_message(
    session_factory: sessionmaker[Session],
) -> None:
    mon_10 = paris(2026, 3, 2, 10)
    with transaction(session_factory) as s:
        ticket = open_ticket(s, add_seller(s), now=mon_10, level=2)
        tickets.do_staff_replied(
            s, ticket_id=ticket.id, user_id="U0AGENT01", now=paris(2026, 3, 2, 11), policy=POLICY
        )
        tickets.do_seller_replied(s, ticket_id=ticket.id, now=paris(2026, 3, 2, 12), policy=POLICY)
        tickets.do_seller_replied(
            s, ticket_id=ticket.id, now=paris(2026, 3, 2, 12, 5), policy=POLICY
        )
        nxt = [c for c in tickets.clocks_of(s, ticket_id=ticket.id) if c.target == "next_response"]
        assert len(nxt) == 1  # a second seller message does not restart it
        # 8 business hours from Monday 12:00 → Tuesday 11:00.
        assert nxt[0].deadline_at == paris(2026, 3, 3, 11)
        ticket_id = ticket.id
    # The first-response warning (13:00) never fires: the target was met at 11:00.
    alerts = _sweep(session_factory, paris(2026, 3, 3, 11, 1))
    assert _fired(alerts) == [("breach", "next_response")]
    with transaction(session_factory) as s:
        kinds = [e.kind for e in tickets.events_of(s, ticket_id=ticket_id)]
        assert "sla_warning" not in kinds and kinds.count("sla_breach") == 1


def test_reopen_starts_a_new_generation_that_warns_again(
    session_factory: sessionmaker[Session],
) -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with transaction(session_factory) as s:
        ticket = open_ticket(s, add_seller(s), now=start, level=3)
        ticket_id = ticket.id
    assert _fired(_sweep(session_factory, start + timedelta(minutes=46))) == [
        ("warning", "first_response")
    ]
    with transaction(session_factory) as s:
        tickets.do_staff_replied(
            s,
            ticket_id=ticket_id,
            user_id="U0AGENT01",
            now=start + timedelta(minutes=50),
            policy=POLICY,
        )
        tickets.do_resolve(
            s,
            ticket_id=ticket_id,
            user_id="U0AGENT01",
            now=start + timedelta(hours=1),
            policy=POLICY,
        )
        tickets.do_reopen(s, ticket_id=ticket_id, now=start + timedelta(hours=2), policy=POLICY)
        clocks = [
            (c.target, c.generation, c.status) for c in tickets.clocks_of(s, ticket_id=ticket_id)
        ]
        assert clocks == [
            ("first_response", 1, "met"),
            ("resolution", 1, "met"),
            ("resolution", 2, "running"),
            ("next_response", 1, "running"),
        ]
    # Level 3 next response is 4 h: warned at 3 h after the reopen, breached at 4 h.
    assert _fired(_sweep(session_factory, start + timedelta(hours=5, minutes=1))) == [
        ("warning", "next_response")
    ]
    assert _fired(_sweep(session_factory, start + timedelta(hours=6, minutes=1))) == [
        ("breach", "next_response")
    ]


def test_relevel_up_fires_on_the_new_targets(session_factory: sessionmaker[Session]) -> None:
    start = paris(2026, 3, 2, 10)
    relevel_at = start + timedelta(minutes=30)
    with transaction(session_factory) as s:
        ticket = open_ticket(s, add_seller(s), now=start, level=1)
        tickets.do_relevel(
            s, ticket_id=ticket.id, level=3, user_id="U0LEAD001", now=relevel_at, policy=POLICY
        )
    alerts = _sweep(session_factory, relevel_at + timedelta(hours=1, minutes=1))
    # The level 1 clocks were cancelled: only the level 3 first response breaches (no warning:
    # it was overtaken), escalated along the whole chain.
    assert _fired(alerts) == [("breach", "first_response")]
    assert alerts[0].level == 3
    assert alerts[0].escalate_to == ["helpdesk_lead", "account_manager", "head_of_marketplace"]


def test_restart_fires_nothing_twice_and_a_missed_deadline_once_late(db_url: str) -> None:
    migrate.upgrade(db_url)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        seller = add_seller(s, account_manager_id=None)
        early = open_ticket(s, seller, now=start, level=3, thread_ts="1.1")
        late = open_ticket(s, seller, now=start + timedelta(hours=3), level=2, thread_ts="1.2")
        early_id = early.id
        del late
    assert _fired(_sweep(factory, start + timedelta(minutes=50))) == [("warning", "first_response")]
    engine.dispose()  # the service stops; nothing is kept in memory

    # Down for five hours. On start, a new engine and session over the same database:
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    now = start + timedelta(hours=6)
    alerts = _sweep(factory, now)
    assert sorted((a.ticket_id == early_id, a.kind, a.target) for a in alerts) == [
        (False, "warning", "first_response"),  # the Level 2 ticket's 75 % passed while down
        (True, "breach", "first_response"),  # missed while down: once, late
    ]
    breach = next(a for a in alerts if a.kind == "breach")
    assert breach.escalate_to == ["helpdesk_lead", "account_manager", "head_of_marketplace"]
    assert breach.account_manager_id is None
    engine.dispose()

    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    assert _sweep(factory, now) == []
    assert _sweep(factory, now + timedelta(minutes=1)) == []
    with transaction(factory) as s:
        events = tickets.events_of(s, ticket_id=early_id)
        kinds = [e.kind for e in events]
        assert kinds == ["opened", "sla_warning", "sla_breach"]
        assert events[2].data["late_seconds"] == pytest.approx(5 * 3600)
    engine.dispose()


def test_deadline_and_warning_both_missed_fire_only_the_breach(
    session_factory: sessionmaker[Session],
) -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with transaction(session_factory) as s:
        ticket_id = open_ticket(s, add_seller(s), now=start, level=3).id
    alerts = _sweep(session_factory, start + timedelta(hours=2))
    assert _fired(alerts) == [("breach", "first_response")]
    with transaction(session_factory) as s:
        breach = [e for e in tickets.events_of(s, ticket_id=ticket_id) if e.kind == "sla_breach"]
        assert breach[0].data["warning_skipped"] is True
        clock = _clock(s, ticket_id, "first_response")
        assert clock.warned_at is not None and clock.next_fire_at is None
    assert _sweep(session_factory, start + timedelta(hours=3)) == []


def test_sweep_rejects_a_naive_now(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s, pytest.raises(ValueError, match="naive"):
        sla_clocks.sweep(s, now=datetime(2026, 3, 2, 9), policy=POLICY)  # noqa: DTZ001


def test_limit_leaves_the_rest_for_the_next_sweep(session_factory: sessionmaker[Session]) -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with transaction(session_factory) as s:
        seller = add_seller(s)
        for i in range(5):
            open_ticket(s, seller, now=start + timedelta(seconds=i), level=3, thread_ts=f"1.{i}")
    now = start + timedelta(minutes=50)
    with transaction(session_factory) as s:
        first = sla_clocks.sweep(s, now=now, policy=POLICY, limit=3)
    assert len(first) == 3
    assert len(_sweep(session_factory, now)) == 2
    assert _sweep(session_factory, now) == []


def test_two_sweepers_at_once_never_fire_the_same_alert(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url, pool_size=4)
    factory = make_sessionmaker(engine)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    n = 60
    with transaction(factory) as s:
        seller = add_seller(s)
        for i in range(n):
            open_ticket(s, seller, now=start, level=3, thread_ts=f"1.{i}")
    now = start + timedelta(minutes=50)  # every first_response warning is due
    barrier = threading.Barrier(2)
    results: list[list[sla_clocks.SlaAlert]] = [[], []]
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            with transaction(factory) as s:
                barrier.wait(timeout=10)
                results[k] = sla_clocks.sweep(s, now=now, policy=POLICY)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors, errors
    fired = [a.clock_id for batch in results for a in batch]
    assert len(fired) == n and len(set(fired)) == n
    with transaction(factory) as s:
        count = s.scalar(
            select(func.count(TicketEvent.id)).where(TicketEvent.kind == "sla_warning")
        )
        assert count == n
    engine.dispose()


def test_a_sweep_and_a_staff_action_on_the_same_ticket_do_not_deadlock(postgres_url: str) -> None:
    """The staff action holds the ticket row while the sweep claims its clock and records the
    event (whose foreign key needs a share lock on that same ticket row)."""
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url, pool_size=4)
    factory = make_sessionmaker(engine)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with transaction(factory) as s:
        ticket_id = open_ticket(s, add_seller(s), now=start, level=3).id
    now = start + timedelta(minutes=50)
    ticket_locked, swept = threading.Event(), threading.Event()
    alerts: list[sla_clocks.SlaAlert] = []
    errors: list[BaseException] = []

    def staff() -> None:
        try:
            with transaction(factory) as s:
                tickets.load_ticket(s, ticket_id)
                ticket_locked.set()
                swept.wait(timeout=5)  # the sweep got through while we hold the ticket
                tickets.do_staff_replied(
                    s, ticket_id=ticket_id, user_id="U0AGENT01", now=now, policy=POLICY
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    def sweeper() -> None:
        try:
            ticket_locked.wait(timeout=10)
            with transaction(factory) as s:
                alerts.extend(sla_clocks.sweep(s, now=now, policy=POLICY))
                swept.set()
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=staff), threading.Thread(target=sweeper)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert not errors, errors
    assert swept.is_set(), "the sweep waited on the staff action's ticket lock"
    assert _fired(alerts) == [("warning", "first_response")]
    with transaction(factory) as s:
        assert _clock(s, ticket_id, "first_response").status == "met"
        kinds = [e.kind for e in tickets.events_of(s, ticket_id=ticket_id)]
        assert kinds == ["opened", "sla_warning", "staff_replied"]
    engine.dispose()
