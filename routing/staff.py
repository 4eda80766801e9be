"""The staff directory: who may act on tickets, and who hears of a breach."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing.db import utcnow
from routing.models import Staff

ROLES = ("agent", "lead", "account_manager", "head")
_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")


class StaffError(ValueError):
    """A staff entry cannot be stored; the message says which value is wrong."""


def check_staff_entry(*, user_id: str, role: str) -> None:
    if not _USER.match(user_id or ""):
        raise StaffError(f"{user_id!r} is not a Slack user id (like U0123ABCD)")
    if role not in ROLES:
        raise StaffError(f"role {role!r} is not one of {', '.join(ROLES)}")


def do_add_staff(
    session: Session, *, user_id: str, role: str, display_name: str | None = None
) -> Staff:
    """Add a staff member, or change the role (and name, when given) of one already there."""
    check_staff_entry(user_id=user_id, role=role)
    member = session.get(Staff, user_id)
    if member is None:
        member = Staff(
            slack_user_id=user_id, role=role, display_name=display_name, created_at=utcnow()
        )
        session.add(member)
    else:
        member.role = role
        if display_name is not None:
            member.display_name = display_name
    session.flush()
    return member


def get_role(session: Session, *, user_id: str) -> str | None:
    return session.scalar(select(Staff.role).where(Staff.slack_user_id == user_id))


def is_staff(
    session: Session, *, user_id: str, usergroup_members: frozenset[str] = frozenset()
) -> bool:
    """In the directory with any role, or a member of the staff Slack user group."""
    return user_id in usergroup_members or get_role(session, user_id=user_id) is not None


def _with_role(session: Session, role: str) -> list[str]:
    query = select(Staff.slack_user_id).where(Staff.role == role).order_by(Staff.slack_user_id)
    return list(session.scalars(query))


def leads(session: Session) -> list[str]:
    return _with_role(session, "lead")


def heads(session: Session) -> list[str]:
    return _with_role(session, "head")


def list_staff(session: Session) -> list[Staff]:
    return list(session.scalars(select(Staff).order_by(Staff.role, Staff.slack_user_id)))
