"""The admin's log of e-mails: what was sent to whom, and what is still waiting and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.models import OutboxMessage, OutboxStatus

STATES = {
    OutboxStatus.PENDING: "pending",
    OutboxStatus.DELIVERED: "sent",
    OutboxStatus.DEAD: "failed",
}


@dataclass(frozen=True)
class MailRow:
    id: int
    to: str
    subject: str
    state: str  # sent, pending, not sent (no SMTP configured) or failed
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def recent_mail(session: Session, limit: int = 200) -> list[MailRow]:
    """The newest e-mails first; a pending one never tried for want of a server says so."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "email")
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    found = []
    for m in rows:
        state = STATES[OutboxStatus(m.status)]
        if state == "pending" and m.attempts == 0 and (m.last_error or "").startswith("not sent"):
            state = "not sent"
        found.append(
            MailRow(
                m.id,
                str(m.payload.get("to", m.destination)),
                str(m.payload.get("subject", "")),
                state,
                m.attempts,
                m.last_error,
                m.created_at,
                m.delivered_at,
            )
        )
    return found
