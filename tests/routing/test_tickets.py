"""The ticket lifecycle on SQLite and PostgreSQL: numbers, events, replay, claims, errors."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing import migrate, staff, tickets
from routing.db import make_engine, make_sessionmaker, transaction
from routing.models import RelevelExample, Seller, SlaClock, Ticket, TicketEvent
from tests.routing.helpdesk_fixtures import POLICY, add_seller, open_ticket, paris

MON_10 = paris(2026, 3, 2, 10)  # Monday 2 March 2026, 10:00 Paris (09:00 UTC)


def _kinds(session: Session, ticket_id: int) -> list[str]:
    return [e.kind for e in tickets.events_of(session, ticket_id=ticket_id)]


def _assert_replays(session: Session, ticket: Ticket) -> None:
    state = tickets.replay(tickets.events_of(session, ticket_id=ticket.id))
    assert (state.status, state.owner_id, state.level) == (
        ticket.status,
        ticket.owner_id,
        ticket.level,
    )


def test_open_numbers_tickets_starts_clocks_and_is_idempotent(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        seller = add_seller(s)
        first = open_ticket(s, seller, now=MON_10)
        again = open_ticket(s, seller, now=MON_10 + timedelta(minutes=5), level=3)
        second = open_ticket(s, seller, now=MON_10, thread_ts="1700000000.000200")
        assert again.id == first.id and again.level == 2  # same thread: the same ticket
        assert (first.number, second.number) == (1001, 1002)
        assert first.status == "open" and first.language == "fr" and first.owner_id is None
        assert _kinds(s, first.id) == ["opened"]
        event = tickets.events_of(s, ticket_id=first.id)[0]
        assert (event.slack_channel, event.slack_ts) == ("C0SELLER1", "1700000000.000100")
        clocks = {c.target: c for c in tickets.clocks_of(s, ticket_id=first.id)}
        assert set(clocks) == {"first_response", "resolution"}
        # Level 2: first response 4 business hours → 14:00 Paris; resolution 3 business days.
        assert clocks["first_response"].deadline_at == paris(2026, 3, 2, 14)
        assert clocks["first_response"].warn_at == paris(2026, 3, 2, 13)
        assert clocks["resolution"].deadline_at == paris(2026, 3, 5, 10)
        assert clocks["first_response"].next_fire_at == clocks["first_response"].warn_at


def test_bad_input_to_open_raises(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        seller = add_seller(s)
        with pytest.raises(tickets.TicketError, match="level 4"):
            open_ticket(s, seller, now=MON_10, level=4)
        with pytest.raises(tickets.TicketError, match="kind 'rant'"):
            open_ticket(s, seller, now=MON_10, kind="rant")
        with pytest.raises(ValueError, match="naive"):
            open_ticket(s, seller, now=MON_10.replace(tzinfo=None))
        assert s.scalars(select(Ticket)).all() == []


def test_lifecycle_events_explain_the_state_at_every_step(
    session_factory: sessionmaker[Session],
) -> None:
    t = MON_10
    with transaction(session_factory) as s:
        seller = add_seller(s)
        ticket = open_ticket(s, seller, now=t)
        steps = [
            lambda: tickets.do_claim(s, ticket_id=ticket.id, user_id="U0AGENT01", now=t),
            lambda: tickets.do_staff_replied(
                s, ticket_id=ticket.id, user_id="U0AGENT01", now=t, policy=POLICY, slack_ts="1.2"
            ),
            lambda: tickets.do_wait_on_seller(
                s, ticket_id=ticket.id, user_id="U0AGENT01", now=t, policy=POLICY
            ),
            lambda: tickets.do_seller_replied(s, ticket_id=ticket.id, now=t, policy=POLICY),
            lambda: tickets.do_relevel(
                s, ticket_id=ticket.id, level=3, user_id="U0LEAD001", now=t, policy=POLICY
            ),
            lambda: tickets.do_resolve(
                s, ticket_id=ticket.id, user_id="U0AGENT01", now=t, policy=POLICY
            ),
            lambda: tickets.do_record_satisfaction(
                s, ticket_id=ticket.id, solved=False, user_id="U0SELLER1", now=t, policy=POLICY
            ),
            lambda: tickets.do_resolve(
                s, ticket_id=ticket.id, user_id="U0AGENT01", now=t, policy=POLICY
            ),
        ]
        expected = [
            ("claimed", "U0AGENT01", 2),
            ("claimed", "U0AGENT01", 2),
            ("waiting_on_seller", "U0AGENT01", 2),
            ("claimed", "U0AGENT01", 2),
            ("claimed", "U0AGENT01", 3),
            ("resolved", "U0AGENT01", 3),
            ("claimed", "U0AGENT01", 3),  # "not solved" reopened it
            ("resolved", "U0AGENT01", 3),
        ]
        for step, want in zip(steps, expected, strict=True):
            step()
            t += timedelta(minutes=10)
            s.refresh(ticket)
            assert (ticket.status, ticket.owner_id, ticket.level) == want
            _assert_replays(s, ticket)
        assert _kinds(s, ticket.id) == [
            "opened",
            "claimed",
            "staff_replied",
            "waiting_on_seller",
            "seller_replied",
            "relevelled",
            "resolved",
            "satisfaction",
            "reopened",
            "resolved",
        ]
        staff_reply = tickets.events_of(s, ticket_id=ticket.id)[2]
        assert (staff_reply.actor_id, staff_reply.slack_ts) == ("U0AGENT01", "1.2")
        assert ticket.first_response_at == MON_10 + timedelta(minutes=10)
        assert ticket.resolved_at is not None
        assert not [
            c
            for c in tickets.clocks_of(s, ticket_id=ticket.id)
            if c.status in ("running", "paused")
        ]


def test_illegal_transitions_raise_and_change_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        ticket = open_ticket(s, add_seller(s), now=MON_10)
        with pytest.raises(tickets.TicketError, match="not resolved"):
            tickets.do_reopen(s, ticket_id=ticket.id, now=MON_10, policy=POLICY)
        with pytest.raises(tickets.TicketError, match="nothing to rate"):
            tickets.do_record_satisfaction(
                s, ticket_id=ticket.id, solved=True, user_id="U0SELLER1", now=MON_10, policy=POLICY
            )
        with pytest.raises(tickets.TicketError, match="level 7"):
            tickets.do_relevel(
                s, ticket_id=ticket.id, level=7, user_id="U0LEAD001", now=MON_10, policy=POLICY
            )
        tickets.do_resolve(s, ticket_id=ticket.id, user_id="U0AGENT01", now=MON_10, policy=POLICY)
        for action in (
            lambda: tickets.do_claim(s, ticket_id=ticket.id, user_id="U0AGENT01", now=MON_10),
            lambda: tickets.do_wait_on_seller(
                s, ticket_id=ticket.id, user_id="U0AGENT01", now=MON_10, policy=POLICY
            ),
            lambda: tickets.do_relevel(
                s, ticket_id=ticket.id, level=3, user_id="U0LEAD001", now=MON_10, policy=POLICY
            ),
        ):
            with pytest.raises(tickets.TicketError, match="is resolved"):
                action()
        with pytest.raises(tickets.TicketError, match="no ticket with id 999"):
            tickets.do_resolve(s, ticket_id=999, user_id="U0AGENT01", now=MON_10, policy=POLICY)
        s.refresh(ticket)
        assert (ticket.status, ticket.owner_id, ticket.level) == ("resolved", None, 2)
        assert _kinds(s, ticket.id) == ["opened", "resolved"]


def test_repeated_actions_change_nothing_twice(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        ticket = open_ticket(s, add_seller(s), now=MON_10)
        for _ in range(2):
            won = tickets.do_claim(s, ticket_id=ticket.id, user_id="U0AGENT01", now=MON_10)
            assert (won.won, won.owner_id) == (True, "U0AGENT01")
            tickets.do_wait_on_seller(
                s, ticket_id=ticket.id, user_id="U0AGENT01", now=MON_10, policy=POLICY
            )
            tickets.do_relevel(
                s, ticket_id=ticket.id, level=2, user_id="U0AGENT01", now=MON_10, policy=POLICY
            )
        tickets.do_resolve(s, ticket_id=ticket.id, user_id="U0AGENT01", now=MON_10, policy=POLICY)
        tickets.do_resolve(s, ticket_id=ticket.id, user_id="U0AGENT01", now=MON_10, policy=POLICY)
        for _ in range(2):
            tickets.do_record_satisfaction(
                s, ticket_id=ticket.id, solved=True, user_id="U0SELLER1", now=MON_10, policy=POLICY
            )
        assert _kinds(s, ticket.id) == [
            "opened",
            "claimed",
            "waiting_on_seller",
            "resolved",
            "satisfaction",
        ]
        assert ticket.satisfaction == "yes"
        assert s.scalars(select(RelevelExample)).all() == []  # same level: no example


def test_second_claimer_learns_the_owner_across_sessions(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        ticket_id = open_ticket(s, add_seller(s), now=MON_10).id
    with transaction(session_factory) as s:
        first = tickets.do_claim(s, ticket_id=ticket_id, user_id="U0AGENT01", now=MON_10)
    with transaction(session_factory) as s:
        second = tickets.do_claim(s, ticket_id=ticket_id, user_id="U0AGENT02", now=MON_10)
    assert (first.won, first.owner_id) == (True, "U0AGENT01")
    assert (second.won, second.owner_id) == (False, "U0AGENT01")
    with transaction(session_factory) as s:
        assert _kinds(s, ticket_id) == ["opened", "claimed"]


def test_concurrent_claims_on_postgresql_one_wins(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        ticket_id = open_ticket(s, add_seller(s), now=MON_10).id
    users = [f"U0AGENT{i:02d}" for i in range(6)]
    barrier = threading.Barrier(len(users))
    results: dict[str, tickets.ClaimResult] = {}
    errors: list[BaseException] = []

    def claim(user: str) -> None:
        try:
            with transaction(factory) as s:
                barrier.wait(timeout=10)
                results[user] = tickets.do_claim(s, ticket_id=ticket_id, user_id=user, now=MON_10)
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(u,)) for u in users]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not errors, errors
    winners = [u for u, r in results.items() if r.won]
    assert len(winners) == 1
    assert {r.owner_id for r in results.values()} == {winners[0]}
    with transaction(factory) as s:
        assert _kinds(s, ticket_id) == ["opened", "claimed"]
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None and ticket.owner_id == winners[0]
    engine.dispose()


def test_relevel_keeps_a_labelled_example_and_restarts_clocks(
    session_factory: sessionmaker[Session],
) -> None:
    later = MON_10 + timedelta(hours=1)
    with transaction(session_factory) as s:
        ticket = open_ticket(s, add_seller(s), now=MON_10, level=1, text="Compte suspendu !!")
        tickets.do_relevel(
            s,
            ticket_id=ticket.id,
            level=3,
            user_id="U0LEAD001",
            now=later,
            policy=POLICY,
            category="account_suspension",
        )
        clocks = tickets.clocks_of(s, ticket_id=ticket.id)
        assert [(c.target, c.generation, c.level, c.status) for c in clocks] == [
            ("first_response", 1, 1, "cancelled"),
            ("resolution", 1, 1, "cancelled"),
            ("first_response", 2, 3, "running"),
            ("resolution", 2, 3, "running"),
        ]
        # Level 3 is around the clock: the full hour from the re-level, nothing carried over.
        assert clocks[2].deadline_at == later + timedelta(hours=1)
        assert clocks[3].deadline_at == later + timedelta(hours=24)
        assert tickets.relevel_examples(s) == [
            ("Compte suspendu !!", "problem", 3, "account_suspension")
        ]
        event = tickets.events_of(s, ticket_id=ticket.id)[-1]
        assert (event.kind, event.actor_id, event.data["from"], event.data["to"]) == (
            "relevelled",
            "U0LEAD001",
            1,
            3,
        )


def test_list_tickets_by_nearest_deadline(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        seller = add_seller(s)
        slow = open_ticket(s, seller, now=MON_10, level=2, thread_ts="1.1")
        urgent = open_ticket(s, seller, now=MON_10, level=3, thread_ts="1.2")
        waiting = open_ticket(s, seller, now=MON_10, level=1, thread_ts="1.3")
        done = open_ticket(s, seller, now=MON_10, level=1, thread_ts="1.4")
        tickets.do_wait_on_seller(
            s, ticket_id=waiting.id, user_id="U0A1234", now=MON_10, policy=POLICY
        )
        tickets.do_resolve(s, ticket_id=done.id, user_id="U0A1234", now=MON_10, policy=POLICY)
        tickets.do_claim(s, ticket_id=slow.id, user_id="U0AGENT01", now=MON_10)
        views = tickets.list_tickets(s)
        assert [v.number for v in views] == [urgent.number, slow.number, waiting.number]
        assert views[0].next_deadline == MON_10 + timedelta(hours=1)
        assert views[0].deadlines == {
            "first_response": (MON_10 + timedelta(hours=1)).isoformat(),
            "next_response": None,
            "resolution": (MON_10 + timedelta(hours=24)).isoformat(),
        }
        assert views[2].next_deadline is None and views[2].status == "waiting_on_seller"
        assert views[1].to_json()["owner_id"] == "U0AGENT01"
        assert views[1].to_json()["seller_name"] == "Boutique S1"
        assert [v.number for v in tickets.list_tickets(s, owner_id="U0AGENT01")] == [slow.number]
        assert [v.number for v in tickets.list_tickets(s, status="resolved")] == [done.number]
        assert len(tickets.list_tickets(s, status="all")) == 4
        assert tickets.list_tickets(s, seller_ids=["nobody"]) == []
        assert [v.number for v in tickets.list_tickets(s, limit=1)] == [urgent.number]
        with pytest.raises(ValueError, match="status 'closed'"):
            tickets.list_tickets(s, status="closed")
        assert tickets.get_by_number(s, number=urgent.number) is urgent
        assert tickets.ticket_for_thread(s, channel_id="C0SELLER1", thread_ts="1.3") is waiting


def test_staff_directory(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        staff.do_add_staff(s, user_id="U0LEAD001", role="lead", display_name="Léa")
        staff.do_add_staff(s, user_id="U0HEAD001", role="head")
        staff.do_add_staff(s, user_id="U0AGENT01", role="agent")
        staff.do_add_staff(s, user_id="U0AGENT01", role="lead")  # a promotion, not a duplicate
        assert staff.get_role(s, user_id="U0AGENT01") == "lead"
        assert staff.leads(s) == ["U0AGENT01", "U0LEAD001"]
        assert staff.heads(s) == ["U0HEAD001"]
        assert staff.is_staff(s, user_id="U0LEAD001")
        assert not staff.is_staff(s, user_id="U0SELLER1")
        assert staff.is_staff(s, user_id="U0GROUP01", usergroup_members=frozenset({"U0GROUP01"}))
        with pytest.raises(staff.StaffError, match="role 'boss'"):
            staff.do_add_staff(s, user_id="U0X123456", role="boss")
        with pytest.raises(staff.StaffError, match="not a Slack user id"):
            staff.do_add_staff(s, user_id="bob", role="agent")
        assert len(staff.list_staff(s)) == 3


def test_clock_rows_belong_to_their_ticket(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        seller = add_seller(s)
        a = open_ticket(s, seller, now=MON_10, thread_ts="1.1")
        b = open_ticket(s, seller, now=MON_10, thread_ts="1.2")
        tickets.do_staff_replied(s, ticket_id=a.id, user_id="U0AGENT01", now=MON_10, policy=POLICY)
        statuses = dict(
            s.execute(
                select(SlaClock.ticket_id, SlaClock.status).where(
                    SlaClock.target == "first_response"
                )
            ).all()
        )
        assert statuses == {a.id: "met", b.id: "running"}


def test_concurrent_openings_on_postgresql_get_one_ticket_per_thread(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url, pool_size=8)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        add_seller(s)
    # Four deliveries of the same thread (Slack retries, two replicas) and four new threads.
    threads_ts = ["1.0"] * 4 + ["2.0", "3.0", "4.0", "5.0"]
    barrier = threading.Barrier(len(threads_ts))
    numbers: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    def open_one(ts: str) -> None:
        try:
            with transaction(factory) as s:
                seller = s.get(Seller, "S1")
                assert seller is not None
                barrier.wait(timeout=10)
                numbers.append((ts, open_ticket(s, seller, now=MON_10, thread_ts=ts).number))
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=open_one, args=(ts,)) for ts in threads_ts]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not errors, errors
    by_thread: dict[str, set[int]] = {}
    for ts, number in numbers:
        by_thread.setdefault(ts, set()).add(number)
    assert all(len(v) == 1 for v in by_thread.values()), by_thread
    assert sorted(n for v in by_thread.values() for n in v) == list(range(1001, 1006))
    with transaction(factory) as s:
        opened = s.scalars(select(TicketEvent).where(TicketEvent.kind == "opened")).all()
        assert len(opened) == 5
    engine.dispose()
