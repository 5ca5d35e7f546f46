"""Users and machine-client tokens; passwords hashed with argon2."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orders.errors import DomainError, DuplicateSubmission, NotFound
from orders.models import ApiToken, Machine, Role, User

_hasher = PasswordHasher()
MIN_PASSWORD = 10
# An address mail servers agree on: ASCII local part and a dotted domain (no quotes, spaces, or
# SQL-looking text such as "'; drop table orders; --@x.example").
EMAIL = re.compile(
    r"[a-z0-9](?:[a-z0-9._%+-]{0,63})@[a-z0-9](?:[a-z0-9-]{0,62})(?:\.[a-z0-9-]{1,63})+"
)
# Text-direction overrides and isolates can make a name read as something else on screen.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _clean_name(name: str) -> bool:
    return not any(ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc" for ch in name)


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
    stations: str | Iterable[str] | None = None,
    *,
    must_change_password: bool = False,
) -> User:
    """A new account; `stations`: the machine id(s) an operator works at."""
    email = email.strip().lower()
    if len(email) > 254 or not EMAIL.fullmatch(email):
        raise DomainError("enter a valid e-mail address", fields={"email": "invalid"})
    if display_name is not None and not _clean_name(display_name):
        raise DomainError(
            "the name may not hold control or text-direction characters",
            fields={"display_name": "no control or bidi-override characters"},
        )
    check_password(password)
    machines = station_machines(session, [stations] if isinstance(stations, str) else stations)
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise DomainError(
            "that e-mail address already has an account", fields={"email": "already registered"}
        )
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name or email.split("@")[0],
        must_change_password=must_change_password,
    )
    user.stations = machines
    try:
        with session.begin_nested():  # a concurrent sign-up with the same address lost the race
            session.add(user)
    except IntegrityError:
        raise DomainError(
            "that e-mail address already has an account", fields={"email": "already registered"}
        ) from None
    return user


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise DomainError(
            f"the password needs at least {MIN_PASSWORD} characters",
            fields={"password": f"at least {MIN_PASSWORD} characters"},
        )


def station_machines(session: Session, ids: Iterable[str] | None) -> list[Machine]:
    """The machines named, each once; an unknown id is an error naming the field."""
    wanted = sorted({i.strip() for i in ids or () if i.strip()})
    machines = (
        list(session.scalars(select(Machine).where(Machine.id.in_(wanted)))) if wanted else []
    )
    unknown = sorted(set(wanted) - {m.id for m in machines})
    if unknown:
        raise DomainError(
            f"no such station: {', '.join(unknown)[:200]}",
            fields={"stations": "unknown machine id"},
        )
    return sorted(machines, key=lambda m: m.id)


def end_sessions(session: Session, user_id: int, seen_version: int | None = None) -> bool:
    """Every session of this user ends (sign-out, a new password): the cookies name an old
    session version, which the loader no longer accepts.

    With `seen_version` (the version of the cookie that asks), sessions that already ended
    since are left alone: of a double-clicked sign-out only the first moves the version.
    Returns whether it moved."""
    user = session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None or (seen_version is not None and user.session_version != seen_version):
        return False
    user.session_version += 1
    return True


def set_password(session: Session, user: User, password: str) -> None:
    """A new password: checked like a new account's, and every old session ends."""
    check_password(password)
    user.password_hash = hash_password(password)
    end_sessions(session, user.id)


# The languages pages come in; the first is the one a person gets when nothing else decides.
LANGUAGES = ("en", "ur")


def set_language(session: Session, user_id: int, language: str) -> bool:
    """Remember the page language a person chose, for every session of theirs. The same choice
    again changes nothing; returns whether it changed."""
    if language not in LANGUAGES:
        raise DomainError(
            f"language must be one of: {', '.join(LANGUAGES)}",
            fields={"language": f"one of {', '.join(LANGUAGES)}"},
        )
    user = session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if user.language == language:
        return False
    user.language = language
    return True


MAX_TOKENS = 10  # live API tokens per user


def live_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False))
            .order_by(ApiToken.id)
        )
    )


def issue_token(session: Session, user: User, name: str) -> str:
    """Create an API token; only its hash is stored, the clear value is returned once.

    The user's row is locked first, so concurrent requests cannot pass the cap together. A
    live token's name is the user's own and unique: a double-clicked form makes one token, and
    the duplicate is told it exists (its clear value was shown once, to the first answer).
    """
    session.get(User, user.id, with_for_update=True, populate_existing=True)
    live = live_tokens(session, user.id)
    if any(t.name == name for t in live):
        raise DuplicateSubmission(
            f"a token named {name[:120]!r} already exists: its value was shown when it was "
            "made; revoke it and create it again if you did not keep it",
            fields={"name": "already used by a live token"},
        )
    if len(live) >= MAX_TOKENS:
        raise DomainError(
            f"you already have {MAX_TOKENS} tokens: revoke one first",
            fields={"name": f"at most {MAX_TOKENS} live tokens"},
        )
    clear = "hnr_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_sha256=_digest(clear)))
    session.flush()
    return clear


def revoke_token(session: Session, user_id: int, token_id: int) -> None:
    """Revoke one of the user's own tokens (another user's token is simply not found)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound(f"token {token_id} not found")
    token.revoked = True


def user_for_token(session: Session, clear: str) -> User | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(clear)))
    if token is None or token.revoked:
        return None
    return session.get(User, token.user_id)


def _digest(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()
