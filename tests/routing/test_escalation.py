"""routing.escalation on SQLite and PostgreSQL: who is told of a Level 3 and of an SLA alert,
the event naming them, and the outbox rows queued in the same transaction, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from sqlalchemy.orm import Session, sessionmaker

from routing import escalation, outbox_store, tickets
from routing.db import transaction
from routing.models import Ticket
from routing.sla_clocks import SlaAlert
from routing.sla_policy import policy_from_mapping
from routing.staff import do_add_staff
from tests.routing.helpdesk_fixtures import POLICY, add_seller, open_ticket

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
LATER = START + timedelta(hours=3)  # a Level 3 first response (1 h) is well breached
AM, LEAD, HEAD, AGENT = "U0AM00001", "U0LEAD001", "U0HEAD001", "U0AGENT01"
TRIAGE = "C0TRIAGE1"


def _staff(s: Session) -> None:
    for user_id, role in ((LEAD, "lead"), (HEAD, "head"), (AGENT, "agent")):
        do_add_staff(s, user_id=user_id, role=role)


def _render(alert: SlaAlert) -> dict[str, Any]:
    return {"text": f"#{alert.number} {alert.kind} {alert.target}"}


def _sweep(factory: sessionmaker[Session], now: datetime, **kw: Any) -> list[SlaAlert]:
    with transaction(factory) as s:
        return escalation.sweep(
            s,
            now=now,
            policy=kw.pop("policy", POLICY),
            render=_render,
            triage_channel=kw.pop("triage_channel", TRIAGE),
            queued_at=START,
        )


def _queued(factory: sessionmaker[Session]) -> list[tuple[str, str | None, str]]:
    """(channel, thread_ts, text) of every queued chat.postMessage, in order."""
    with factory() as s:
        return [
            (r.payload["channel"], r.payload.get("thread_ts"), r.payload["text"])
            for r in outbox_store.rows(s)
        ]


def _events(factory: sessionmaker[Session], ticket_id: int) -> list[tuple[str, dict[str, Any]]]:
    with factory() as s:
        return [(e.kind, e.data) for e in tickets.events_of(s, ticket_id=ticket_id)]


def _operator_policy(chain: list[str]) -> Any:
    """The packaged policy with another Level 3 escalation chain, as an operator's file."""
    from importlib import resources

    data = yaml.safe_load(resources.files("routing").joinpath("sla_defaults.yaml").read_text())
    data["levels"][3]["escalation"] = chain
    return policy_from_mapping(data, source="operator.yaml")


def test_a_breach_tells_the_card_thread_and_the_chain_as_people_once(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        _staff(s)
        ticket = open_ticket(s, add_seller(s), now=START, level=3)
        tickets.do_claim(s, ticket_id=ticket.id, user_id=AGENT, now=START)
        tickets.do_link_slack(
            s, ticket_id=ticket.id, now=START, triage_channel=TRIAGE, triage_ts="7.7"
        )
        ticket_id, number = ticket.id, ticket.number
    alerts = _sweep(session_factory, LATER)
    assert [(a.kind, a.target) for a in alerts] == [("breach", "first_response")]
    text = f"#{number} breach first_response"
    # the owner first, then the chain: lead, account manager, head (each once)
    assert _queued(session_factory) == [
        (TRIAGE, "7.7", text),
        (AGENT, None, text),
        (LEAD, None, text),
        (AM, None, text),
        (HEAD, None, text),
    ]
    kind, data = _events(session_factory, ticket_id)[-1]
    assert kind == "escalated"
    assert data["to"] == [AGENT, LEAD, AM, HEAD]
    assert data["chain"] == ["helpdesk_lead", "account_manager", "head_of_marketplace"]
    assert data["triage"] == TRIAGE
    # a second sweep (the worker's, or the CLI's again) fires and queues nothing
    assert _sweep(session_factory, LATER) == []
    assert _sweep(session_factory, LATER + timedelta(minutes=1)) == []
    assert len(_queued(session_factory)) == 5
    assert [k for k, _ in _events(session_factory, ticket_id)].count("escalated") == 1


def test_the_chain_is_the_policy_given_not_the_packaged_one(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        _staff(s)
        ticket_id = open_ticket(s, add_seller(s), now=START, level=3).id
    alerts = _sweep(session_factory, LATER, policy=_operator_policy(["head_of_marketplace"]))
    assert alerts[0].escalate_to == ["head_of_marketplace"]
    assert [c for c, _, _ in _queued(session_factory)] == [TRIAGE, HEAD]
    assert _events(session_factory, ticket_id)[-1][1]["to"] == [HEAD]


def test_a_warning_tells_only_the_owner_and_says_so(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        _staff(s)
        ticket = open_ticket(s, add_seller(s), now=START, level=3)
        tickets.do_claim(s, ticket_id=ticket.id, user_id=AGENT, now=START)
        ticket_id = ticket.id
    alerts = _sweep(session_factory, START + timedelta(minutes=50), triage_channel=None)
    assert [a.kind for a in alerts] == ["warning"]
    assert [c for c, _, _ in _queued(session_factory)] == [AGENT]  # no triage channel set
    assert _events(session_factory, ticket_id)[-1] == (
        "notified",
        {"target": "first_response", "to": [AGENT], "triage": None},
    )


def test_no_account_manager_on_file_the_leads_are_told_and_the_gap_recorded(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        _staff(s)
        ticket_id = open_ticket(s, add_seller(s, account_manager_id=None), now=START, level=3).id
    _sweep(session_factory, LATER)
    assert [c for c, _, _ in _queued(session_factory)] == [TRIAGE, LEAD, HEAD]
    kinds = [k for k, _ in _events(session_factory, ticket_id)]
    assert kinds[-2:] == ["escalated", "escalation_gap"]


def test_a_sweep_that_fails_queues_nothing_and_fires_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as s:
        _staff(s)
        open_ticket(s, add_seller(s), now=START, level=3)

    def broken(alert: SlaAlert) -> dict[str, Any]:
        raise RuntimeError("renderer broke")

    try:
        with transaction(session_factory) as s:
            escalation.sweep(
                s, now=LATER, policy=POLICY, render=broken, triage_channel=TRIAGE, queued_at=START
            )
    except RuntimeError:
        pass
    assert _queued(session_factory) == []
    # one unit: the alert was not recorded as fired, so the next sweep still tells it
    assert [a.kind for a in _sweep(session_factory, LATER)] == ["breach"]
    assert len(_queued(session_factory)) == 4


def test_a_level3_tells_the_account_manager_and_tags_the_leads(
    session_factory: sessionmaker[Session],
) -> None:
    seen: list[escalation.Level3Notice] = []

    def triage_post(notice: escalation.Level3Notice) -> dict[str, Any]:
        seen.append(notice)
        return {"text": f"tagged {' '.join(notice.leads)}"}

    with transaction(session_factory) as s:
        _staff(s)
        with_am = open_ticket(s, add_seller(s), now=START, level=3, thread_ts="1.1")
        seller = add_seller(s, "S2", channel_id="C0SELLER2", account_manager_id=None)
        without = open_ticket(s, seller, now=START, level=3, thread_ts="1.2")
        for ticket in (with_am, without):
            escalation.escalate_level3(
                s,
                s.get(Ticket, ticket.id) or ticket,
                now=START,
                dm={"text": f"L3 #{ticket.number}"},
                triage_channel=TRIAGE,
                triage_post=triage_post,
            )
        ids = with_am.id, without.id
    assert _queued(session_factory) == [
        (AM, None, f"L3 #{with_am.number}"),
        (TRIAGE, None, f"tagged {LEAD}"),
        (LEAD, None, f"L3 #{without.number}"),  # no account manager: the lead instead
        (TRIAGE, None, f"tagged {LEAD}"),
    ]
    assert [n.account_manager_id for n in seen] == [AM, None]
    assert _events(session_factory, ids[0])[-1] == (
        "escalated",
        {"to": [AM], "leads": [LEAD], "level": 3, "triage": TRIAGE},
    )
    assert [k for k, _ in _events(session_factory, ids[1])][-2:] == [
        "escalated",
        "escalation_gap",
    ]
