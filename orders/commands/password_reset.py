""" "Forgot password?": a one-time link by e-mail that expires.

WHY this shape: the answer to a request never says whether the address has an account (no
address oracle: the web shows one sentence for both); only a hash of each link's token is
stored, so a copy of the database resets nobody; a link works once, for `reset_link_minutes`
(`[accounts]` in data/shop.toml), and using it burns every other open link of the account and
ends every session (`accounts.set_password`). At most `max_open_links` open links per account:
further requests send nothing, so the form cannot flood someone's mailbox.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orders.commands.accounts import EMAIL, check_password, set_password
from orders.commands.audit import Actor, record_event
from orders.commands.notify import password_reset_link
from orders.errors import DomainError
from orders.models import OutboxMessage, PasswordReset, User
from orders.shop import SHOP_TOML, ShopDataError, shop_data

MAX_TOKEN = 128  # longer than any token we issue: anything longer is not one of ours
USED_LINK = {"label": "This link is used up; ask for a new one at", "path": "/forgot"}


class ResetLinkInvalid(DomainError):
    """The link is unknown, expired or already used (the page answers 410 Gone)."""

    code = "reset_link_invalid"

    def __init__(self) -> None:
        super().__init__(
            "this password-reset link has expired or was already used: ask for a new one",
            fields={"token": "expired or used"},
        )


@dataclass(frozen=True)
class ResetLimits:
    reset_link_minutes: int
    max_open_links: int


@cache
def reset_limits(path: Path = SHOP_TOML) -> ResetLimits:
    """`[accounts]` of data/shop.toml: how long a link lives, how many may be open at once."""
    raw = shop_data(path)["accounts"]
    limits = ResetLimits(int(raw["reset_link_minutes"]), int(raw["max_open_links"]))
    if limits.reset_link_minutes < 1 or limits.max_open_links < 1:
        raise ShopDataError(f"{path.name}: [accounts] numbers must be at least 1")
    return limits


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(
    session: Session, email: str, request_key: str | None, now: datetime | None = None
) -> bool:
    """E-mail a reset link if an active account has this address; whether one was written is
    for tests and logs only (the caller's answer must not depend on it).

    `request_key` is the form's one-off key: under a lock on the user's row, a second submit
    of the same form finds the first link and sends nothing more."""
    now = now or datetime.now(UTC)
    address = (email or "").strip().lower()
    if len(address) > 254 or not EMAIL.fullmatch(address):
        raise DomainError(
            "enter a valid e-mail address", fields={"email": "a valid e-mail address"}
        )
    key = (request_key or "").strip()[:64] or secrets.token_hex(16)
    user = session.scalar(select(User).where(User.email == address).with_for_update())
    if user is None or not user.active:
        return False
    mine = select(func.count()).select_from(PasswordReset).where(PasswordReset.user_id == user.id)
    if session.scalar(mine.where(PasswordReset.request_key == key)):
        return False  # this form already sent its link
    open_links = mine.where(PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
    limits = reset_limits()
    if (session.scalar(open_links) or 0) >= limits.max_open_links:
        return False
    clear = secrets.token_urlsafe(32)
    row = PasswordReset(
        user_id=user.id,
        token_sha256=token_digest(clear),
        request_key=key,
        created_at=now,
        expires_at=now + timedelta(minutes=limits.reset_link_minutes),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same form, submitted at once from another worker
        return False
    password_reset_link(session, user, clear, row.id, limits.reset_link_minutes)
    body = {"reset_id": row.id, "expires_at": row.expires_at.isoformat()}
    record_event(session, Actor.system("password reset"), "user", user.id, None, "reset_link", body)
    return True


def open_link(
    session: Session, token: str, now: datetime | None = None, *, lock: bool = True
) -> PasswordReset:
    """The reset row of a link that can still be used, or `ResetLinkInvalid`; locked (and
    re-read) for a caller that is about to use it, so of two uses at once one wins."""
    now = now or datetime.now(UTC)
    if not token or len(token) > MAX_TOKEN:
        raise ResetLinkInvalid()
    query = select(PasswordReset).where(PasswordReset.token_sha256 == token_digest(token))
    if lock:
        query = query.with_for_update()
    row = session.scalar(query.execution_options(populate_existing=True))
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise ResetLinkInvalid()
    return row


def reset_with_link(
    session: Session, token: str, password: str, now: datetime | None = None
) -> User:
    """Set a new password through a link: checked like any password (a refused one leaves the
    link usable), then the link and every other open link of the account are burned, every
    session ends, and a `password_set_by_link` event is written."""
    now = now or datetime.now(UTC)
    row = open_link(session, token, now)
    check_password(password)
    user = session.get(User, row.user_id, with_for_update=True, populate_existing=True)
    if user is None or not user.active:
        raise ResetLinkInvalid()
    set_password(session, user, password)
    user.must_change_password = False  # chosen by its owner, not seen by anyone else
    burned = list(
        session.scalars(
            select(PasswordReset.id).where(
                PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
            )
        )
    )
    session.execute(update(PasswordReset).where(PasswordReset.id.in_(burned)).values(used_at=now))
    _scrub_links(session, user.id, burned)
    actor = Actor(user.display_name, user.id)
    body = {"reset_id": row.id, "links_burned": len(burned)}
    record_event(session, actor, "user", user.id, None, "password_set_by_link", body)
    return user


def _scrub_links(session: Session, user_id: int, reset_ids: list[int]) -> None:
    """Take the clear tokens of burned links out of their stored e-mails (sent or waiting):
    after use the database holds no link that names one."""
    keys = [f"mail:reset{rid}:user{user_id}" for rid in reset_ids]
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.in_(keys)))
    for msg in rows:
        msg.payload = {**msg.payload, "link": dict(USED_LINK)}
