"""Read every printer's live status and keep the fleet board's table (`printer_status`) current.

Why a thread pool: a printer's `status()` is network I/O (HTTP to OctoPrint, Moonraker and
PrusaLink, a cached MQTT report for Bambu), so fifty printers read one after another would take
as long as the slowest fifty answers; read together, a pass takes about as long as the slowest
one. A printer that is still answering the previous pass is not asked again (one call in flight
per transport, so a transport is never used from two threads at once), and one that has not
answered within `answer_s` is shown as not answering instead of holding up the others.

Why "only when changed": fifty printers read every second would be fifty writes a second for a
board that mostly shows idle printers. Each reading is rounded to what the board shows (whole
degrees, 0.1 % progress, whole seconds), compared with the stored row and written only when it
differs; an unchanged row gets its `read_at` refreshed every `HEARTBEAT` so the board can still
tell a quiet printer from a poller that stopped.

A transport that raises is recorded as disconnected with the error; a transport without printer
status (MQTT, OPC UA, webhook, folder: `Unsupported`) gets no row, and the board says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mes_bridge.transports.base import PrinterStatus, Transport, Unsupported
from orders.models import Machine, PrinterConnection, PrinterJobState, PrinterStatusRow

if TYPE_CHECKING:
    from orders.context import AppContext

HEARTBEAT = timedelta(seconds=10)
#: Seconds between passes of `hunar fleet poll --loop`: half a second, so that with the board's
#: own one-second refresh a change is on screen within two seconds even in the worst case.
INTERVAL_S = 0.5
#: What the board compares and shows; `read_at`/`changed_at`/`last_error*` are bookkeeping.
FIELDS = (
    "connection",
    "job_state",
    "job_id",
    "progress",
    "eta_s",
    "nozzle_c",
    "bed_c",
    "material",
    "error",
    "monitor_only",
)
Reading = dict[str, Any]


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def reading_of(status: PrinterStatus) -> Reading:
    """A status in the table's words, rounded to what the board shows (so noise is no change)."""
    try:
        job_state = PrinterJobState(status.job_state.value)
    except ValueError:
        job_state = PrinterJobState.UNKNOWN
    return {
        "connection": PrinterConnection(status.connection.value),
        "job_state": job_state,
        "job_id": status.job_id[:120],
        "progress": _round(status.progress, 3),
        "eta_s": _round(status.eta_s, 0),
        "nozzle_c": _round(status.nozzle_c, 0),
        "bed_c": _round(status.bed_c, 0),
        "material": status.material[:64],
        "error": status.error[:2000],
        "monitor_only": status.monitor_only[:2000],
    }


def failed_reading(error: str) -> Reading:
    """A printer we could not read: disconnected, state unknown, the reason kept."""
    return {
        "connection": PrinterConnection.DISCONNECTED,
        "job_state": PrinterJobState.UNKNOWN,
        "job_id": "",
        "progress": None,
        "eta_s": None,
        "nozzle_c": None,
        "bed_c": None,
        "material": "",
        "error": error[:2000],
        "monitor_only": "",
    }


def _read(transport: Transport) -> Reading | None:
    try:
        return reading_of(transport.status())
    except Unsupported:
        return None
    except Exception as exc:  # noqa: BLE001 - any failure of a printer is shown, never raised
        return failed_reading(f"{type(exc).__name__}: {exc}")


@dataclass(slots=True)
class PollReport:
    read: int = 0  # readings taken this pass
    changed: int = 0  # rows inserted or updated
    touched: int = 0  # unchanged rows whose read_at was refreshed
    waiting: int = 0  # transports still answering an earlier pass


class FleetPoller:
    """Reads a fixed set of transports concurrently, pass after pass (see the module docstring)."""

    def __init__(
        self,
        transports: Mapping[str, Transport],
        *,
        answer_s: float = 5.0,
        wait_s: float = INTERVAL_S,  # a pass lasts no longer than the interval, whoever hangs
        workers: int = 32,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.transports = dict(transports)
        self.answer_s, self.wait_s, self.clock = answer_s, wait_s, clock
        size = max(1, min(workers, len(self.transports)))
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="fleet-poll")
        self._inflight: dict[str, tuple[Future[Reading | None], float]] = {}
        self._overdue: set[str] = set()

    def read_all(self) -> tuple[dict[str, Reading], int]:
        """This pass's readings by machine, and how many transports are still answering."""
        for mid, transport in self.transports.items():
            if mid not in self._inflight:
                self._inflight[mid] = (self._pool.submit(_read, transport), time.monotonic())
        wait([f for f, _ in self._inflight.values()], timeout=self.wait_s)
        out: dict[str, Reading] = {}
        for mid, (future, since) in list(self._inflight.items()):
            if future.done():
                del self._inflight[mid]
                self._overdue.discard(mid)
                if (reading := future.result()) is not None:
                    out[mid] = reading
            elif time.monotonic() - since > self.answer_s and mid not in self._overdue:
                self._overdue.add(mid)  # say it once; the call goes on and is collected later
                out[mid] = failed_reading(f"no answer within {self.answer_s:g} s")
        return out, len(self._inflight)

    def poll_once(self, ctx: AppContext) -> PollReport:
        readings, waiting = self.read_all()
        with ctx.db.transaction() as s:
            report = store(s, readings, self.clock())
        report.waiting = waiting
        return report

    def close(self) -> None:
        """Stop the pool without waiting for a hung printer (its thread ends with its timeout)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _upsert(session: Session, values: dict[str, Any], update_keys: list[str]) -> None:
    """One row per machine even when two pollers insert it at once (ON CONFLICT on both engines)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(PrinterStatusRow).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[PrinterStatusRow.machine_id],
        set_={k: stmt.excluded[k] for k in update_keys},
    )
    session.execute(stmt)


def store(session: Session, readings: Mapping[str, Reading], now: datetime) -> PollReport:
    """Write the readings that differ from the stored rows; refresh `read_at` of stale others."""
    report = PollReport(read=len(readings))
    if not readings:
        return report
    known = set(session.scalars(select(Machine.id).where(Machine.id.in_(list(readings)))))
    rows = {
        r.machine_id: r
        for r in session.scalars(
            select(PrinterStatusRow).where(PrinterStatusRow.machine_id.in_(list(readings)))
        )
    }
    touch: list[str] = []
    for mid, reading in readings.items():
        if mid not in known:
            continue  # a machine removed since the transports were made
        row = rows.get(mid)
        if row is not None and all(getattr(row, k) == reading[k] for k in FIELDS):
            if now - row.read_at >= HEARTBEAT:
                touch.append(mid)
            continue
        values = {"machine_id": mid, **reading, "changed_at": now, "read_at": now}
        keys = [*FIELDS, "changed_at", "read_at"]
        if reading["error"]:
            values |= {"last_error": reading["error"], "last_error_at": now}
            keys += ["last_error", "last_error_at"]
        else:
            values |= {"last_error": "", "last_error_at": None}  # only used on insert
        _upsert(session, values, keys)
        report.changed += 1
    if touch:
        session.execute(
            update(PrinterStatusRow)
            .where(PrinterStatusRow.machine_id.in_(touch))
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
        report.touched = len(touch)
    session.expire_all()  # the ORM rows read above are stale after the core statements
    return report


def poll_loop(
    ctx: AppContext,
    transports: Mapping[str, Transport],
    interval_s: float = INTERVAL_S,
    on_pass: Callable[[PollReport], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """`hunar fleet poll --loop`: a pass every `interval_s` until stopped (Ctrl-C or `should_stop`)."""
    poller = FleetPoller(transports)
    try:
        while not should_stop():
            began = time.monotonic()
            report = poller.poll_once(ctx)
            if on_pass is not None:
                on_pass(report)
            time.sleep(max(0.0, interval_s - (time.monotonic() - began)))
    finally:
        poller.close()
