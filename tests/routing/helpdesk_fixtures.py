"""Shared builders for the help-desk tests: a seller, a ticket, Paris wall times."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from routing import tickets
from routing.models import Seller, Ticket
from routing.sla_policy import SlaPolicy, load_policy

PARIS = ZoneInfo("Europe/Paris")
POLICY: SlaPolicy = load_policy()


def paris(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A Paris wall time as aware UTC (how the brief states business hours)."""
    return datetime(y, mo, d, h, mi, tzinfo=PARIS).astimezone(UTC)


def add_seller(
    session: Session,
    seller_id: str = "S1",
    *,
    channel_id: str = "C0SELLER1",
    account_manager_id: str | None = "U0AM00001",
    language: str = "fr",
) -> Seller:
    seller = Seller(
        seller_id=seller_id,
        name=f"Boutique {seller_id}",
        channel_id=channel_id,
        account_manager_id=account_manager_id,
        tier="gold",
        language=language,
    )
    session.add(seller)
    session.flush()
    return seller


def open_ticket(
    session: Session,
    seller: Seller,
    *,
    now: datetime,
    level: int = 2,
    thread_ts: str = "1700000000.000100",
    text: str = "Mon virement de mars n'est pas arrivé",
    kind: str = "problem",
    category: str = "payout",
) -> Ticket:
    return tickets.do_open_ticket(
        session,
        seller=seller,
        channel_id=seller.channel_id,
        thread_ts=thread_ts,
        text=text,
        kind=kind,
        level=level,
        category=category,
        confidence=0.8,
        reasons=["payout missing"],
        now=now,
        policy=POLICY,
    )
