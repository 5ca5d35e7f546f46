"""One-time password-reset links: only a hash of each link's token is kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orders.db import Base
from orders.models._types import UTCDateTime, utcnow


class PasswordReset(Base):
    """A reset link e-mailed to a user: valid until `expires_at`, once (`used_at`).

    The clear token lives only in the e-mail, so a copy of the database cannot reset anyone's
    password. `request_key` is the "forgot password" form's one-off key: a double submit of
    one form sends one link (unique per user).
    """

    __tablename__ = "password_resets"
    __table_args__ = (UniqueConstraint("user_id", "request_key", name="uq_password_resets_form"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    request_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
