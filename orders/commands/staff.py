"""Staff administration: add people, change roles, assign stations, deactivate, reset passwords.

WHY here and not in the web: the admin page and `hunar user ...` must apply the same guard
rails (never zero active admins, fields named in errors) and write the same audit events.
Every change is an `Event` with entity "user"; passwords never appear in its payload.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.commands.accounts import (
    check_password,
    create_user,
    end_sessions,
    hash_password,
    station_machines,
    verify_password,
)
from orders.commands.audit import Actor, record_event
from orders.errors import DomainError, DuplicateSubmission, NotFound
from orders.models import Event, Role, User

ENTITY = "user"


def parse_role(raw: str) -> Role:
    """A role by its name; anything else is an error naming the field."""
    try:
        return Role((raw or "").strip().lower())
    except ValueError:
        raise DomainError(
            f"unknown role {raw[:40]!r}: use one of {', '.join(r.value for r in Role)}",
            fields={"role": "one of " + ", ".join(r.value for r in Role)},
        ) from None


def one_time_password() -> str:
    """A generated password, shown once; its holder must replace it at the next sign-in."""
    return secrets.token_urlsafe(12)


def _user(session: Session, user_id: int) -> User:
    """The row, locked until commit, so two admins' changes to one person apply one by one."""
    user = session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with e-mail {email[:254]!r}", fields={"email": "unknown"})
    return user


def _active_admins(session: Session) -> set[int]:
    """The active admins, their rows locked in id order before any other row is.

    Locked first and always in one order: two admins demoting each other at once wait for one
    another instead of deadlocking, and the second sees the first's change (PostgreSQL
    re-checks a locked row once the first commits), so the shop never ends without an admin.
    """
    query = (
        select(User.id)
        .where(User.role == Role.ADMIN, User.active.is_(True))
        .order_by(User.id)
        .with_for_update()
    )
    return set(session.scalars(query))


def _keep_an_admin(user: User, actor: Actor, admins: set[int], what: str) -> None:
    """Refuse to take away the last active admin, or one's own admin rights (locked out)."""
    if user.role != Role.ADMIN or not user.active:
        return
    if actor.user_id == user.id:
        raise DomainError(
            f"you cannot {what} your own account: ask another admin",
            fields={"user": "not yourself"},
        )
    if not admins - {user.id}:
        raise DomainError(
            f"cannot {what} the last active admin: make someone else admin first",
            fields={"role": "the shop needs an active admin"},
        )


def add_staff(
    session: Session,
    actor: Actor,
    email: str,
    role: Role,
    display_name: str,
    stations: Iterable[str] = (),
    password: str | None = None,
) -> tuple[User, str]:
    """A new account and its password (given or generated), to be changed at first sign-in."""
    name = display_name.strip()
    if not name or len(name) > 120:
        raise DomainError(
            "enter a display name of 1 to 120 characters",
            fields={"display_name": "1 to 120 characters"},
        )
    clear = password or one_time_password()
    user = create_user(session, email, clear, role, name, list(stations), must_change_password=True)
    session.flush()
    record_event(
        session,
        actor,
        ENTITY,
        user.id,
        None,
        "created",
        {"email": user.email, "role": role.value, "stations": list(user.station_ids)},
    )
    return user, clear


def set_role(session: Session, actor: Actor, user_id: int, role: Role) -> User:
    admins = _active_admins(session)
    user = _user(session, user_id)
    if user.role == role:
        return user
    if role != Role.ADMIN:
        _keep_an_admin(user, actor, admins, "demote")
    before = user.role.value
    user.role = role
    record_event(session, actor, ENTITY, user.id, f"role:{before}", f"role:{role.value}")
    return user


def assign_stations(session: Session, actor: Actor, user_id: int, stations: Iterable[str]) -> User:
    """The user's whole set of stations (machines, QC and pack included) becomes `stations`."""
    user = _user(session, user_id)
    machines = station_machines(session, stations)
    before = list(user.station_ids)
    user.stations = machines
    after = [m.id for m in machines]
    if before != after:
        record_event(
            session, actor, ENTITY, user.id, None, "stations", {"before": before, "after": after}
        )
    return user


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivating ends every session at once and refuses sign-in until reactivated."""
    admins = _active_admins(session)
    user = _user(session, user_id)
    if user.active == active:
        return user
    if not active:
        _keep_an_admin(user, actor, admins, "deactivate")
        end_sessions(session, user.id)
    user.active = active
    record_event(
        session,
        actor,
        ENTITY,
        user.id,
        "inactive" if active else "active",
        "active" if active else "inactive",
    )
    return user


def _reset_seen(session: Session, user_id: int, request_key: str) -> bool:
    """Whether this reset form (its key) already reset this user's password."""
    payloads = session.scalars(
        select(Event.payload).where(
            Event.entity_type == ENTITY,
            Event.entity_id == str(user_id),
            Event.to_state == "password_reset",
        )
    )
    return any((p or {}).get("request_key") == request_key for p in payloads)


def reset_password(
    session: Session,
    actor: Actor,
    user_id: int,
    password: str | None = None,
    request_key: str | None = None,
) -> str:
    """An admin's reset: the given or a generated password, shown once; every session ends
    and the user must choose their own at the next sign-in.

    With `request_key` (the form's), a second submit of the same form is refused as already
    done (under the user's row lock): the password the first answer showed stays the one."""
    user = _user(session, user_id)
    if actor.user_id == user.id:
        raise DomainError(
            "use 'Change password' for your own account", fields={"user": "not yourself"}
        )
    key = (request_key or "").strip()[:64]
    if key and _reset_seen(session, user.id, key):
        raise DuplicateSubmission(
            f"the password of {user.email} was already reset from this form: the password "
            "shown then is the one; reload the page to reset it again",
            fields={"password": "already reset"},
        )
    clear = password or one_time_password()
    check_password(clear)
    user.password_hash = hash_password(clear)
    user.must_change_password = True
    end_sessions(session, user.id)
    body = {"request_key": key} if key else None
    record_event(session, actor, ENTITY, user.id, None, "password_reset", body)
    return clear


def change_own_password(session: Session, user_id: int, current: str, new: str) -> User:
    """The user's own new password (required after a reset): the current one must be right
    and the new one different. Every other session ends; the caller signs in again."""
    user = _user(session, user_id)
    if not verify_password(user, current):
        raise DomainError(
            "the current password is not right", fields={"current_password": "does not match"}
        )
    check_password(new)
    if verify_password(user, new):
        raise DomainError(
            "choose a password different from the current one",
            fields={"password": "must differ from the current password"},
        )
    user.password_hash = hash_password(new)
    user.must_change_password = False
    end_sessions(session, user.id)
    record_event(session, Actor(user.display_name, user.id), ENTITY, user.id, None, "password_set")
    return user
