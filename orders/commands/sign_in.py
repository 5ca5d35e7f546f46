"""Signing in under a per-account throttle with backoff, shared by every web worker.

WHY per account and in the database: a per-IP limit in each worker let 20 source addresses
try 9 passwords each against one account, and the right password still worked at once. The
throttle row is keyed by the e-mail's hash whether or not an account has it, so a lockout
reveals nothing about which addresses are registered.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orders.commands.accounts import hash_password, verify_password
from orders.models import LoginThrottle, User
from orders.shop import shop_numbers

QUIET_RESET = timedelta(days=1)  # a day without failures forgets the earlier ones


@dataclass(frozen=True)
class SignIn:
    """The user when the password is right and the account not locked; else why not."""

    user: User | None
    retry_after_s: int = 0

    @property
    def locked(self) -> bool:
        return self.retry_after_s > 0


def throttle_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _locked_row(session: Session, key: str, now: datetime) -> LoginThrottle:
    """The account's throttle row, created if new, locked until the caller commits."""
    query = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    row = session.scalar(query)
    if row is None:
        try:
            with session.begin_nested():
                session.add(LoginThrottle(key=key, failures=0, updated_at=now))
        except IntegrityError:  # another worker created it first: take theirs
            pass
        row = session.scalar(query.execution_options(populate_existing=True))
    assert row is not None
    return row


def sign_in(session: Session, email: str, password: str, now: datetime | None = None) -> SignIn:
    """Check a password in the caller's transaction; failures count even when it returns."""
    now = now or datetime.now(UTC)
    limits = shop_numbers().sign_in
    row = _locked_row(session, throttle_key(email), now)
    if row.locked_until is not None and row.locked_until > now:
        return SignIn(None, math.ceil((row.locked_until - now).total_seconds()))
    if row.updated_at < now - QUIET_RESET:
        row.failures = 0
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        hash_password(password)  # the same work as a real check: no e-mail probing by timing
    ok = user is not None and user.active and verify_password(user, password)
    if ok:
        row.failures, row.locked_until = 0, None
    else:
        row.failures += 1
        lock = limits.lockout_seconds(row.failures)
        row.locked_until = now + timedelta(seconds=lock) if lock else None
    row.updated_at = now
    return SignIn(user if ok else None)
