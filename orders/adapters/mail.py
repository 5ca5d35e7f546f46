"""E-mail through the transactional outbox: a notification is an `email` row written with the
state change that causes it, and sent afterwards by `flush_mail` (after write requests and in
`hunar dispatch`), so a mail server outage delays e-mails but never loses one or fails an order.

One row per recipient and event (its idempotency key): a retried command or a second flush never
sends the same e-mail twice. A claimed row carries a lease, so two flushes (two web workers, or a
worker and the dispatcher) never send one row at once; the Message-ID is derived from the key, so
even the resend after a crash between sending and recording is recognisable as the same e-mail.
"""

from __future__ import annotations

import hashlib
import smtplib
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.dispatch import Backoff
from orders.adapters.outbox import add_message, due
from orders.models import OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from orders.context import AppContext
    from orders.settings import Settings

KIND = "email"
MAIL_BACKOFF = Backoff(base_s=5.0, max_s=300.0)  # 5, 10, 20 … s while the server is away
CLAIM_LEASE = timedelta(seconds=120)  # longer than one SMTP conversation with its timeouts
NOT_CONFIGURED = "not sent: no SMTP configured"
# The base of links in e-mails written during one web request whose host the shop trusts
# (`Settings.trusted_hosts`); None outside such a request. Set by the web layer, read here, so
# commands that write e-mails need not know whether a request is behind them.
_request_base: ContextVar[str | None] = ContextVar("hunar_mail_link_base", default=None)


@dataclass(frozen=True)
class Link:
    """A path on the public site; made absolute at sending time from HUNAR_PUBLIC_URL, else from
    the trusted request that wrote the e-mail (see `set_link_base`)."""

    label: str
    path: str


def set_link_base(base: str | None) -> Token[str | None]:
    """E-mails written from now on (in this context) link to `base` when HUNAR_PUBLIC_URL is
    unset. The web layer passes a request's own address only when its host is trusted, so a
    forged Host header can never receive someone else's link (a password-reset token above
    all). Undo with `reset_link_base(token)`."""
    return _request_base.set(base.rstrip("/") if base else None)


def reset_link_base(token: Token[str | None]) -> None:
    _request_base.reset(token)


def add_email(
    session: Session,
    *,
    key: str,
    to: str,
    subject: str,
    body: str,
    link: Link | None = None,
) -> OutboxMessage:
    """Ask for one e-mail in the caller's transaction, once per key (a repeat is the same row)."""
    payload: dict[str, Any] = {"to": to, "subject": subject, "body": body}
    if link is not None:
        payload["link"] = {"label": link.label, "path": link.path}
        if (base := _request_base.get()) is not None:
            payload["link"]["base"] = base
    return add_message(
        session, kind=KIND, destination=to[:128], transport="smtp", key=key, payload=payload
    )


def compose(settings: Settings, msg_key: str, payload: dict[str, Any]) -> EmailMessage:
    """The e-mail as sent: the stored text, plus the link when its base is known (HUNAR_PUBLIC_URL,
    else the trusted address of the request that wrote it)."""
    body = str(payload["body"]).rstrip() + "\n"
    link = payload.get("link")
    base = settings.base_url(link.get("base")) if link else None
    if link and base:
        body += f"\n{link['label']}: {base}{link['path']}\n"
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = str(payload["to"])
    mail["Subject"] = str(payload["subject"])
    mail["Date"] = formatdate(usegmt=True)
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "hunar.invalid"
    mail["Message-ID"] = f"<{hashlib.sha256(msg_key.encode()).hexdigest()[:32]}@{domain}>"
    mail.set_content(body)
    return mail


def send(settings: Settings, mail: EmailMessage) -> None:
    """One SMTP conversation; raises smtplib/OSError errors for the caller to classify."""
    assert settings.smtp_host
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
        smtp.send_message(mail)


def permanent(exc: Exception) -> bool:
    """A refusal that retrying cannot cure (5xx: a bad address, a message the server rejects)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
    return False


def flush_mail(ctx: AppContext, limit: int = 50, now: datetime | None = None) -> int:
    """Send due e-mails; a server outage leaves them pending with the error and a backoff.

    Without a configured server the due rows are marked "not sent" once and kept: they go out
    when a server is configured. Returns how many were sent.
    """
    now = now or datetime.now(UTC)
    if not ctx.settings.smtp_host:
        _mark_unconfigured(ctx, limit, now)
        return 0
    sent = 0
    for msg_id, key, payload, attempts in _claim(ctx, limit, now):
        try:
            send(ctx.settings, compose(ctx.settings, key, payload))
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:1000]
            dead = permanent(exc)
            retry = datetime.now(UTC) + timedelta(seconds=MAIL_BACKOFF.delay(attempts))
            _settle(ctx, msg_id, error=error, retry_at=None if dead else retry)
            continue
        _settle(ctx, msg_id)
        sent += 1
    return sent


def _claim(
    ctx: AppContext, limit: int, now: datetime
) -> list[tuple[int, str, dict[str, Any], int]]:
    with ctx.db.sessions() as s:  # a read first: most write requests have no e-mail waiting
        if not s.scalar(_due_ids(now).limit(1)):
            return []
    claimed = []
    with ctx.db.transaction() as s:
        for msg in due(s, KIND, limit, now):
            msg.next_attempt_at = now + CLAIM_LEASE
            claimed.append((msg.id, msg.idempotency_key, dict(msg.payload), msg.attempts))
    return claimed


def _due_ids(now: datetime) -> Any:
    return select(OutboxMessage.id).where(
        OutboxMessage.kind == KIND,
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.next_attempt_at <= now,
    )


def _mark_unconfigured(ctx: AppContext, limit: int, now: datetime) -> None:
    query = _due_ids(now).where(OutboxMessage.last_error.is_(None)).limit(limit)
    with ctx.db.sessions() as s:
        ids = list(s.scalars(query))
    if not ids:
        return
    with ctx.db.transaction() as s:
        for msg in s.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))):
            if msg.status == OutboxStatus.PENDING and msg.last_error is None:
                msg.last_error = NOT_CONFIGURED


def _settle(
    ctx: AppContext, msg_id: int, *, error: str = "", retry_at: datetime | None = None
) -> None:
    with ctx.db.transaction() as s:
        msg = s.get_one(OutboxMessage, msg_id)
        if not error:
            msg.status, msg.delivered_at = OutboxStatus.DELIVERED, datetime.now(UTC)
            msg.receipt = {"smtp": "accepted"}
            return
        msg.attempts += 1
        msg.last_error = error
        if retry_at is None:
            msg.status = OutboxStatus.DEAD
        else:
            msg.next_attempt_at = retry_at
