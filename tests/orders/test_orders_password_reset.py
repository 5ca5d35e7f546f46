"""Password reset by an e-mailed one-time link (issue 14), end to end through the outbox and a
real SMTP server (aiosmtpd): the link works once and expires, only its hash is stored, using it
ends every session and burns the other links, and the request answers nothing about whether
an address has an account. Both engines."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import make_settings, make_user
from shared_helpers import at_once
from sqlalchemy import func, select
from test_orders_notifications import SmtpServer, smtp, text  # noqa: F401  (the smtp fixture)

from orders.adapters.mail import flush_mail
from orders.commands.accounts import verify_password
from orders.commands.password_reset import (
    ResetLinkInvalid,
    open_link,
    request_reset,
    reset_limits,
    reset_with_link,
    token_digest,
)
from orders.context import AppContext
from orders.errors import DomainError
from orders.models import Event, OutboxMessage, PasswordReset, User

LINK = re.compile(r"https://shop\.example\.com/reset/([A-Za-z0-9_-]+)")
NEW = "a brand new passphrase"


@pytest.fixture
def mailctx(
    backend: str,
    db_factory: Any,
    tmp_path: Path,
    smtp: SmtpServer,  # noqa: F811
) -> Iterator[AppContext]:
    settings = make_settings(
        tmp_path,
        db_factory.url(backend),
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="Hunar <orders@hunar.example>",
        public_url="https://shop.example.com",
        smtp_timeout_s=5,
    )
    context = AppContext.from_settings(settings)
    yield context
    context.close()


def customer(ctx: AppContext) -> tuple[int, str]:
    with ctx.db.transaction() as s:
        user = make_user(s)
        return user.id, user.email


def ask(ctx: AppContext, email: str, key: str | None = None, now: datetime | None = None) -> bool:
    with ctx.db.transaction() as s:
        return request_reset(s, email, key or uuid.uuid4().hex, now)


def mailed_token(ctx: AppContext, smtp: SmtpServer, email: str) -> str:  # noqa: F811
    flush_mail(ctx)
    (msg,) = smtp.inbox.to(email)[-1:]
    assert msg["Subject"] == "Choose a new Hunar password"
    found = LINK.search(text(msg))
    assert found, text(msg)
    return found.group(1)


def use(ctx: AppContext, token: str, password: str = NEW, now: datetime | None = None) -> User:
    with ctx.db.transaction() as s:
        return reset_with_link(s, token, password, now)


def session_version(ctx: AppContext, uid: int) -> int:
    with ctx.db.sessions() as s:
        return s.get_one(User, uid).session_version


def test_the_link_works_once_ends_sessions_and_stores_only_a_hash(
    mailctx: AppContext,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    uid, email = customer(mailctx)
    assert ask(mailctx, email.upper())  # addresses are matched as sign-in does
    token = mailed_token(mailctx, smtp, email)
    with mailctx.db.sessions() as s:
        row = s.scalars(select(PasswordReset).where(PasswordReset.user_id == uid)).one()
        assert row.token_sha256 == token_digest(token) and token not in row.token_sha256
        assert row.expires_at - row.created_at == timedelta(
            minutes=reset_limits().reset_link_minutes
        )
    version = session_version(mailctx, uid)
    use(mailctx, token)
    with mailctx.db.sessions() as s:
        user = s.get_one(User, uid)
        assert verify_password(user, NEW) and not user.must_change_password
        assert user.session_version == version + 1  # every session ended
        stored = [str(m.payload) for m in s.scalars(select(OutboxMessage))]
        events = s.scalars(select(Event.to_state).where(Event.entity_id == str(uid))).all()
    assert not any(token in p for p in stored)  # the used link is scrubbed from the outbox
    assert "reset_link" in events and "password_set_by_link" in events
    with pytest.raises(ResetLinkInvalid):
        use(mailctx, token, "yet another passphrase")


def test_an_expired_link_is_refused(mailctx: AppContext, smtp: SmtpServer) -> None:  # noqa: F811
    _, email = customer(mailctx)
    ask(mailctx, email)
    token = mailed_token(mailctx, smtp, email)
    later = datetime.now(UTC) + timedelta(minutes=reset_limits().reset_link_minutes, seconds=1)
    with pytest.raises(ResetLinkInvalid) as gone:
        use(mailctx, token, now=later)
    assert gone.value.fields == {"token": "expired or used"}


def test_a_weak_password_keeps_the_link_usable(
    mailctx: AppContext,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    _, email = customer(mailctx)
    ask(mailctx, email)
    token = mailed_token(mailctx, smtp, email)
    with pytest.raises(DomainError) as weak:
        use(mailctx, token, "short")
    assert "password" in weak.value.fields
    use(mailctx, token)


def test_no_address_oracle_and_no_mail_flood(mailctx: AppContext, smtp: SmtpServer) -> None:  # noqa: F811
    uid, email = customer(mailctx)
    assert not ask(mailctx, "nobody-here@example.com")  # same answer to the caller, no row
    sent = [ask(mailctx, email) for _ in range(reset_limits().max_open_links + 2)]
    assert sent == [True] * reset_limits().max_open_links + [False, False]
    flush_mail(mailctx)
    assert len(smtp.inbox.to(email)) == reset_limits().max_open_links
    assert smtp.inbox.to("nobody-here@example.com") == []
    with pytest.raises(DomainError) as bad:
        ask(mailctx, "not an address")
    assert "email" in bad.value.fields
    # using one link burns every other open link of the account
    tokens = [
        LINK.search(text(m)).group(1)  # type: ignore[union-attr]
        for m in smtp.inbox.to(email)
    ]
    use(mailctx, tokens[0])
    for other in tokens[1:]:
        with mailctx.db.sessions() as s, pytest.raises(ResetLinkInvalid):
            open_link(s, other, lock=False)
    assert ask(mailctx, email)  # and a new one may be asked for
    with mailctx.db.sessions() as s:
        assert verify_password(s.get_one(User, uid), NEW)


def test_an_inactive_account_gets_no_link(mailctx: AppContext) -> None:
    with mailctx.db.transaction() as s:
        user = make_user(s)
        user.active = False
        email = user.email
    assert not ask(mailctx, email)


def test_a_double_submitted_form_sends_one_link(mailctx: AppContext) -> None:
    uid, email = customer(mailctx)
    key = uuid.uuid4().hex
    results = at_once(4, lambda: ask(mailctx, email, key))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 1
    with mailctx.db.sessions() as s:
        count = s.scalar(
            select(func.count()).select_from(PasswordReset).where(PasswordReset.user_id == uid)
        )
    assert count == 1


def test_two_uses_of_one_link_at_once_set_the_password_once(
    mailctx: AppContext,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    uid, email = customer(mailctx)
    ask(mailctx, email)
    token = mailed_token(mailctx, smtp, email)
    results = at_once(4, lambda: use(mailctx, token))
    assert sum(isinstance(r, User) for r in results) == 1
    assert all(isinstance(r, User | ResetLinkInvalid) for r in results), results
    with mailctx.db.sessions() as s:
        events = s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.entity_id == str(uid), Event.to_state == "password_set_by_link")
        )
    assert events == 1
