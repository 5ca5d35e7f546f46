"""People and machine clients that act on the platform."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, String, Table, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orders.db import Base
from orders.models._types import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from orders.models.machines import Machine


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    PLANNER = "planner"
    OPERATOR = "operator"
    ADMIN = "admin"


STAFF = frozenset({Role.PLANNER, Role.OPERATOR, Role.ADMIN})  # the shop's people, not customers

# The stations (machines, QC and pack benches included) a person works at: the one source of
# truth for which operator pages and buttons are theirs.
user_stations = Table(
    "user_stations",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("machine_id", ForeignKey("machines.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every session cookie: raising it (sign-out, new password) ends all sessions.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set on seeded staff and after an admin's reset: such a password was seen by someone else.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The page language the person chose ("en", "ur"); None: their cookie or browser decides.
    language: Mapped[str | None] = mapped_column(String(8), default=None)

    stations: Mapped[list[Machine]] = relationship(
        secondary=user_stations, order_by="Machine.id", lazy="selectin"
    )

    @property
    def station_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.stations)


class ApiToken(Base):
    """A hashed bearer token for a machine client; the clear token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(default=False)


class LoginThrottle(Base):
    """Failed sign-ins per account, shared by every web worker through the database.

    Keyed by a hash of the normalised e-mail, whether or not an account has it, so a lockout
    says nothing about which addresses are registered.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
