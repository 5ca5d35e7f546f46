"""Material on the shelf and on the printers: filament spools and sheets, and their ledger.

A spool's `grams_left` is net filament (the empty spool's `tare_g` is not in it). A spool may be
loaded on one FDM machine and a machine holds at most one spool (unique `machine_id`): stock
tracking is opt-in per machine, so only a machine with a loaded spool is checked at start.
What jobs will use is computed from the released plan (`orders/queries/stock.py`), never stored.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orders.db import Base
from orders.models._types import UTCDateTime, str_enum, utcnow


class StockKind(enum.StrEnum):
    SPOOL = "spool"
    SHEET = "sheet"


class MoveKind(enum.StrEnum):
    RECEIVE = "receive"
    LOAD = "load"
    UNLOAD = "unload"
    ADJUST = "adjust"
    CONSUME = "consume"
    DISCREPANCY = "discrepancy"  # a job needed more than the spool was recorded to hold


class StockItem(Base):
    __tablename__ = "stock_items"
    __table_args__ = (
        CheckConstraint("grams_left >= 0", name="grams_left_nonnegative"),
        CheckConstraint("grams_initial >= 0", name="grams_initial_nonnegative"),
        CheckConstraint("tare_g >= 0", name="tare_nonnegative"),
        CheckConstraint("sheets_left >= 0", name="sheets_left_nonnegative"),
        CheckConstraint("sheets_initial >= 0", name="sheets_initial_nonnegative"),
        CheckConstraint(
            "(kind = 'spool' AND thickness_mm IS NULL)"
            " OR (kind = 'sheet' AND thickness_mm > 0 AND machine_id IS NULL)",
            name="kind_fields",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[StockKind] = mapped_column(str_enum(StockKind, "stock_kind"))
    material_id: Mapped[str] = mapped_column(String(32), index=True, doc="configurator key")
    colour: Mapped[str] = mapped_column(String(32), default="")
    thickness_mm: Mapped[float | None] = mapped_column(doc="Sheets only.")
    grams_initial: Mapped[float] = mapped_column(default=0.0)
    grams_left: Mapped[float] = mapped_column(default=0.0, doc="Net filament, tare excluded.")
    tare_g: Mapped[float] = mapped_column(default=0.0, doc="The empty spool's weight.")
    sheets_initial: Mapped[int] = mapped_column(default=0)
    sheets_left: Mapped[int] = mapped_column(default=0)
    location: Mapped[str] = mapped_column(String(64), default="")
    machine_id: Mapped[str | None] = mapped_column(
        ForeignKey("machines.id", ondelete="SET NULL"), unique=True, doc="Loaded on (spools)."
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockMove(Base):
    """One change to an item: the stock ledger (the audit event says who and why as well).

    `idempotency_key` makes a re-submitted form or a replayed consumption count once; `parts`
    are the units of `operation_id` whose filament this move accounts for.
    """

    __tablename__ = "stock_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("stock_items.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[MoveKind] = mapped_column(str_enum(MoveKind, "stock_move_kind"))
    grams: Mapped[float] = mapped_column(default=0.0, doc="Signed change of grams_left.")
    sheets: Mapped[int] = mapped_column(default=0, doc="Signed change of sheets_left.")
    machine_id: Mapped[str | None] = mapped_column(String(64))
    operation_id: Mapped[int | None] = mapped_column(
        ForeignKey("operations.id", ondelete="SET NULL"), index=True
    )
    parts: Mapped[int] = mapped_column(default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(255), default="")
