"""The fleet board's memory: each printer's last live status, as its transport reported it.

One row per machine, written by the fleet poller (`orders/adapters/fleet_poll.py`) only when
something the board shows changed, so fifty printers polled every second cost writes only for
the printers that are doing something. `changed_at` is when the shown state last changed;
`read_at` is when the poller last heard from the printer (refreshed at most every few seconds
while nothing changes), so the board can tell a quiet printer from a poller that stopped.
The states are stored in the transports' own words (`mes_bridge.transports.base`), as strings
with CHECK constraints like every other enum here.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orders.db import Base
from orders.models._types import UTCDateTime, str_enum, utcnow


class PrinterConnection(enum.StrEnum):
    """`ConnectionState` of the transport when it was read."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"


class PrinterJobState(enum.StrEnum):
    """`JobState` (OPC 10031-4 job-order states) of the printer's current job."""

    UNKNOWN = "Unknown"
    NOT_ALLOWED_TO_START = "NotAllowedToStart"
    ALLOWED_TO_START = "AllowedToStart"
    RUNNING = "Running"
    INTERRUPTED = "Interrupted"
    ENDED = "Ended"
    ABORTED = "Aborted"


class PrinterStatusRow(Base):
    """The last `PrinterStatus` of one machine; `error` is the current one, `last_error` stays
    after the printer recovers so the board can say what went wrong last."""

    __tablename__ = "printer_status"

    machine_id: Mapped[str] = mapped_column(
        ForeignKey("machines.id", ondelete="CASCADE"), primary_key=True
    )
    connection: Mapped[PrinterConnection] = mapped_column(
        str_enum(PrinterConnection, "printer_connection")
    )
    job_state: Mapped[PrinterJobState] = mapped_column(
        str_enum(PrinterJobState, "printer_job_state")
    )
    job_id: Mapped[str] = mapped_column(String(120), default="")
    progress: Mapped[float | None] = mapped_column(doc="0..1")
    eta_s: Mapped[float | None] = mapped_column()
    nozzle_c: Mapped[float | None] = mapped_column()
    bed_c: Mapped[float | None] = mapped_column()
    material: Mapped[str] = mapped_column(String(64), default="", doc="As the printer reports it.")
    error: Mapped[str] = mapped_column(Text, default="")
    monitor_only: Mapped[str] = mapped_column(Text, default="", doc="Why it cannot be driven.")
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
