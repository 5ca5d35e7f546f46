"""The shop's machines and workstations, and when they can work."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orders.db import Base
from orders.models._types import JsonDict, JSONType, UTCDateTime, str_enum


class MachineState(enum.StrEnum):
    UP = "up"
    DOWN = "down"


class WindowKind(enum.StrEnum):
    MAINTENANCE = "maintenance"
    DOWNTIME = "downtime"


class Calendar(Base):
    """A weekly shift pattern: `shifts` is a list of {weekday 0-6, start 'HH:MM', end 'HH:MM'}."""

    __tablename__ = "calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Karachi")
    shifts: Mapped[list[JsonDict]] = mapped_column(JSONType, default=list)


class Machine(Base):
    __tablename__ = "machines"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    process: Mapped[str] = mapped_column(String(16), index=True)
    materials: Mapped[list[str]] = mapped_column(JSONType, default=list)
    build_x_mm: Mapped[float] = mapped_column(default=0.0)
    build_y_mm: Mapped[float] = mapped_column(default=0.0)
    build_z_mm: Mapped[float] = mapped_column(default=0.0)
    speed_factor: Mapped[float] = mapped_column(default=1.0)
    hourly_rate: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    state: Mapped[MachineState] = mapped_column(
        str_enum(MachineState, "machine_state"), default=MachineState.UP
    )
    transport: Mapped[str] = mapped_column(String(16), default="mqtt")
    transport_config: Mapped[JsonDict] = mapped_column(JSONType, default=dict)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendars.id"))

    calendar: Mapped[Calendar | None] = relationship()
    windows: Mapped[list[CalendarWindow]] = relationship(
        back_populates="machine", order_by="CalendarWindow.start", cascade="all, delete-orphan"
    )


class CalendarWindow(Base):
    """A time a machine cannot work: planned maintenance or unplanned downtime."""

    __tablename__ = "calendar_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[str] = mapped_column(
        ForeignKey("machines.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[WindowKind] = mapped_column(str_enum(WindowKind, "window_kind"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="None: down until marked up.")
    note: Mapped[str | None] = mapped_column(Text)

    machine: Mapped[Machine] = relationship(back_populates="windows")
