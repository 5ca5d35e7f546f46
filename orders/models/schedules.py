"""Versioned plans and their assignments of operations to machines and times."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orders.db import Base
from orders.models._types import JsonDict, JSONType, UTCDateTime, str_enum, utcnow


class ScheduleState(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    RELEASED = "released"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    base_version: Mapped[int | None] = mapped_column(doc="Released version this was planned on.")
    approval_slot: Mapped[int | None] = mapped_column(
        unique=True, doc="base_version (0: none) once approved; unique, so one approval wins."
    )
    params: Mapped[JsonDict] = mapped_column(JSONType, default=dict, doc="Objective, limits, pins.")
    state: Mapped[ScheduleState] = mapped_column(
        str_enum(ScheduleState, "schedule_state"), default=ScheduleState.PROPOSED, index=True
    )
    objective: Mapped[str] = mapped_column(String(32))
    solver_status: Mapped[str] = mapped_column(String(16))
    kpis: Mapped[JsonDict] = mapped_column(JSONType, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", order_by="Assignment.start"
    )


class Assignment(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), index=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machines.id"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    setup_minutes: Mapped[int] = mapped_column(default=0)
    plate_key: Mapped[str | None] = mapped_column(String(64), doc="Shared by parts on one plate.")
    frozen: Mapped[bool] = mapped_column(default=False)

    schedule: Mapped[Schedule] = relationship(back_populates="assignments")
