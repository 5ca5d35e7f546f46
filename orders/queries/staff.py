"""Who works here: the people list for the admin page and `hunar user list` (read-only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.models import Machine, Role, User


@dataclass(frozen=True)
class PersonRow:
    """One account as the admin sees it: plain values, no ORM object leaves the session."""

    id: int
    email: str
    display_name: str
    role: str
    stations: tuple[str, ...]
    active: bool
    must_change_password: bool


def people(session: Session, *, staff_only: bool = False) -> list[PersonRow]:
    """Every account (staff first when listing everyone), ordered by role then e-mail."""
    query = select(User).order_by(User.role, User.email)
    if staff_only:
        query = query.where(User.role != Role.CUSTOMER)
    return [
        PersonRow(
            u.id,
            u.email,
            u.display_name,
            str(u.role),
            u.station_ids,
            u.active,
            u.must_change_password,
        )
        for u in session.scalars(query)
    ]


def station_choices(session: Session) -> list[tuple[str, str]]:
    """(machine id, label) for every machine, the QC and pack stations included."""
    return [
        (m.id, f"{m.name} ({m.process})")
        for m in session.scalars(select(Machine).order_by(Machine.process, Machine.id))
    ]


def must_change_password(session: Session, user_id: int) -> bool:
    user = session.get(User, user_id)
    return bool(user and user.must_change_password)
