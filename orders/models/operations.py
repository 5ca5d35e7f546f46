"""Routing steps of order lines: what the scheduler plans and the floor executes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orders.db import Base
from orders.models._types import JSONType, UTCDateTime, str_enum


class OperationStatus(enum.StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    RELEASED = "released"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    SCRAPPED = "scrapped"
    CANCELLED = "cancelled"


class Operation(Base):
    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("order_line_id", "seq", name="uq_operations_line_seq"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(doc="Position in the line's routing (precedence).")
    step: Mapped[str] = mapped_column(String(32), doc="print, support_removal, qc, pack, ...")
    process: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int]
    eligible: Mapped[dict[str, int]] = mapped_column(
        JSONType, default=dict, doc="machine id -> duration in minutes on that machine"
    )
    setup_family: Mapped[str | None] = mapped_column(String(96))
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[OperationStatus] = mapped_column(
        str_enum(OperationStatus, "operation_status"), default=OperationStatus.PENDING, index=True
    )
    pinned_machine_id: Mapped[str | None] = mapped_column(ForeignKey("machines.id"))
    pinned_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scrapped_qty: Mapped[int] = mapped_column(default=0)
