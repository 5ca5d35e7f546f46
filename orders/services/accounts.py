"""Users and machine-client tokens; passwords hashed with argon2."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orders.errors import DomainError
from orders.models import ApiToken, Role, User

_hasher = PasswordHasher()
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    session: Session,
    email: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    station_machine_id: str | None = None,
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise DomainError("enter a valid e-mail address", fields={"email": "invalid"})
    if len(password) < MIN_PASSWORD:
        raise DomainError(
            f"the password needs at least {MIN_PASSWORD} characters",
            fields={"password": f"at least {MIN_PASSWORD} characters"},
        )
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise DomainError(
            "that e-mail address already has an account", fields={"email": "already registered"}
        )
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name or email.split("@")[0],
        station_machine_id=station_machine_id,
    )
    session.add(user)
    session.flush()
    return user


def issue_token(session: Session, user: User, name: str) -> str:
    """Create an API token; only its hash is stored, the clear value is returned once."""
    clear = "hnr_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_sha256=_digest(clear)))
    session.flush()
    return clear


def user_for_token(session: Session, clear: str) -> User | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(clear)))
    if token is None or token.revoked:
        return None
    return session.get(User, token.user_id)


def _digest(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()
