"""Load-shedding outages per electricity feeder: announced ones and ones the floor reports."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orders.db import Base
from orders.models._types import UTCDateTime, str_enum, utcnow


class OutageSource(enum.StrEnum):
    ICS = "ics"  # imported from the utility's calendar file
    MANUAL = "manual"  # typed in by a planner from an SMS or WhatsApp notice
    FLOOR = "floor"  # "power lost" reported from the floor: unplanned


class PowerOutage(Base):
    """[start, end) on one feeder; `end` None while power is still out (floor-reported).

    `uid` keeps an imported calendar idempotent: importing the same file again updates its
    events rather than adding them twice (unique per feeder).
    """

    __tablename__ = "power_outages"
    __table_args__ = (
        UniqueConstraint("feeder", "uid", name="uq_power_outages_feeder_uid"),
        CheckConstraint("end_at IS NULL OR end_at > start_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feeder: Mapped[str] = mapped_column(String(64), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[OutageSource] = mapped_column(str_enum(OutageSource, "outage_source"))
    uid: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
