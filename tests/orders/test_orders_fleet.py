"""The fleet poller and the board's rows: readings are stored only when what the board shows
changed, a printer that raises is shown disconnected with its error, a slow one does not hold up
the others, and a row carries the plan's job, the loaded spool and the bed-clear rule."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

import configurator
from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryReceipt,
    JobState,
    Packet,
    PrinterStatus,
    StartResult,
    Transport,
    TransportUnavailable,
)
from orders.adapters.fleet_poll import FleetPoller
from orders.commands.audit import Actor, record_event
from orders.commands.designs import save_configuration
from orders.context import AppContext
from orders.lifecycle import Status
from orders.models import (
    Assignment,
    Machine,
    Operation,
    OperationStatus,
    Order,
    OrderLine,
    PrinterStatusRow,
    Role,
    Schedule,
    ScheduleState,
    StockItem,
    StockKind,
)
from orders.queries.fleet import as_json, fleet
from tests.factories import make_user

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)  # in the past: a bed clear recorded now is later


class Fake(Transport):
    """A printer whose status the test sets; `fail` makes status() raise, `gate` makes it wait."""

    name = "fake"

    def __init__(self, machine_id: str) -> None:
        super().__init__()
        self.now = PrinterStatus(
            machine_id, ConnectionState.CONNECTED, JobState.ALLOWED_TO_START, nozzle_c=24.0
        )
        self.fail: Exception | None = None
        self.gate: threading.Event | None = None

    def status(self) -> PrinterStatus:
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail is not None:
            raise self.fail
        return self.now

    def connect(self) -> None: ...

    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        raise NotImplementedError

    def read_state(self, job_id: str) -> JobState:
        return JobState.UNKNOWN

    def start(self, job_id: str) -> StartResult:
        raise NotImplementedError

    def close(self) -> None: ...


class NoStatus(Fake):
    """Like MQTT: the base class's status() says Unsupported."""

    status = Transport.status


def machines(ctx: AppContext, *ids: str) -> None:
    with ctx.db.transaction() as s:
        for mid in ids:
            s.add(Machine(id=mid, name=mid.upper(), process="fdm", transport="moonraker"))


def rows(ctx: AppContext) -> dict[str, PrinterStatusRow]:
    with ctx.db.sessions() as s:
        out = {r.machine_id: r for r in s.scalars(select(PrinterStatusRow))}
        s.expunge_all()
        return out


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


def test_poller_writes_only_changes_and_records_errors(ctx: AppContext) -> None:
    machines(ctx, "p1", "p2", "p3")
    p1, p2, p3 = Fake("p1"), Fake("p2"), NoStatus("p3")
    p2.fail = TransportUnavailable("printer at 10.0.0.7 refused the connection")
    clock = Clock()
    poller = FleetPoller({"p1": p1, "p2": p2, "p3": p3}, clock=clock)
    try:
        first = poller.poll_once(ctx)
        assert (first.read, first.changed) == (2, 2)  # p3 reports no status: no row
        got = rows(ctx)
        assert set(got) == {"p1", "p2"}
        assert got["p2"].connection == "disconnected" and got["p2"].job_state == "Unknown"
        assert "TransportUnavailable: printer at 10.0.0.7" in got["p2"].error
        assert got["p2"].last_error == got["p2"].error

        clock.at += timedelta(seconds=1)
        p1.now = replace(p1.now, nozzle_c=24.3)  # sensor noise under a degree: no change
        assert poller.poll_once(ctx).changed == 0
        assert rows(ctx)["p1"].changed_at == T0 and rows(ctx)["p1"].read_at == T0

        clock.at += timedelta(seconds=1)
        p1.now = replace(p1.now, job_state=JobState.RUNNING, job_id="JO-7-v1", progress=0.25)
        assert poller.poll_once(ctx).changed == 1
        assert rows(ctx)["p1"].job_state == "Running" and rows(ctx)["p1"].changed_at == clock.at

        clock.at += timedelta(seconds=11)  # nothing changed for longer than the heartbeat
        report = poller.poll_once(ctx)
        assert (report.changed, report.touched) == (0, 2)
        assert rows(ctx)["p1"].read_at == clock.at

        p2.fail = None  # back: the error clears, the last error stays on the board
        assert poller.poll_once(ctx).changed == 1
        back = rows(ctx)["p2"]
        assert back.connection == "connected" and back.error == ""
        assert "refused the connection" in back.last_error and back.last_error_at == T0
    finally:
        poller.close()


def test_a_printer_that_hangs_does_not_hold_up_the_others(ctx: AppContext) -> None:
    machines(ctx, "fast", "slow")
    fast, slow = Fake("fast"), Fake("slow")
    slow.gate = threading.Event()
    poller = FleetPoller({"fast": fast, "slow": slow}, answer_s=0.2, wait_s=0.05)
    try:
        began = time.monotonic()
        assert poller.poll_once(ctx).waiting == 1
        assert time.monotonic() - began < 1.0 and set(rows(ctx)) == {"fast"}
        time.sleep(0.25)
        poller.poll_once(ctx)
        assert rows(ctx)["slow"].error == "no answer within 0.2 s"
        slow.gate.set()
        time.sleep(0.05)
        poller.poll_once(ctx)
        assert rows(ctx)["slow"].connection == "connected" and rows(ctx)["slow"].error == ""
    finally:
        slow.gate.set()
        poller.close()


def _plan(ctx: AppContext, machine: str) -> tuple[int, int]:
    """A released plan with three prints on `machine`: done, running and next (ids of the last two)."""
    with ctx.db.transaction() as s:
        cust = make_user(s, Role.CUSTOMER)
        raw = configurator.get_family("enclosure").default_raw()
        cfg = save_configuration(s, "enclosure", raw)
        plan = Schedule(
            version=3,
            objective="due_dates",
            solver_status="OPTIMAL",
            state=ScheduleState.RELEASED,
            released_at=T0,
            kpis={},
            params={},
        )
        s.add(plan)
        line = OrderLine(
            configuration_id=cfg.id,
            quantity=1,
            tier="standard",
            unit_price=Decimal("100"),
            status=Status.RELEASED,
        )
        order = Order(
            customer_id=cust.id,
            idempotency_key="fleet",
            request_sha256="0" * 64,
            status=Status.RELEASED,
            currency="PKR",
            total=Decimal("100"),
        )
        order.lines.append(line)
        s.add(order)
        s.flush()
        ids = []
        statuses = (OperationStatus.DONE, OperationStatus.RUNNING, OperationStatus.RELEASED)
        for seq, status in enumerate(statuses):
            op = Operation(
                order_line_id=line.id,
                seq=seq,
                step="print",
                process="fdm",
                quantity=1,
                eligible={machine: 60},
                status=status,
                ended_at=T0 if status is OperationStatus.DONE else None,
            )
            s.add(op)
            s.flush()
            ids.append(op.id)
            start = T0 + timedelta(hours=seq)
            plan.assignments.append(
                Assignment(
                    operation_id=op.id,
                    machine_id=machine,
                    start=start,
                    end=start + timedelta(hours=1),
                )
            )
        return ids[1], ids[2]


def test_board_rows_join_plan_spool_and_bed_clear(ctx: AppContext) -> None:
    machines(ctx, "mk4-a", "mk4-b")
    running, _ = _plan(ctx, "mk4-a")
    with ctx.db.transaction() as s:
        s.add(
            StockItem(
                kind=StockKind.SPOOL,
                material_id="petg",
                colour="orange",
                grams_initial=1000,
                grams_left=812.5,
                machine_id="mk4-a",
            )
        )
    a = Fake("mk4-a")
    a.now = replace(a.now, job_state=JobState.RUNNING, job_id=f"JO-{running}-v3", nozzle_c=215.2)
    poller = FleetPoller({"mk4-a": a})
    try:
        poller.poll_once(ctx)
    finally:
        poller.close()
    with ctx.db.sessions() as s:
        board = {r.machine_id: r for r in fleet(s, now=datetime.now(UTC))}
    row = board["mk4-a"]
    assert row.live and not row.stale and row.job_state == "Running" and row.nozzle_c == 215
    assert row.planned is not None and row.planned.job_order_id == f"JO-{running}-v3"
    assert row.planned.status == "running"
    assert row.spool == "petg orange, 812.5 g left" and row.bed_clear_needed
    assert not board["mk4-b"].live and board["mk4-b"].planned is None
    doc = as_json(row)
    assert doc["planned"] == {"job_order_id": f"JO-{running}-v3", "status": "running"}
    assert isinstance(doc["read_at"], str)
    with ctx.db.transaction() as s:  # the operator confirms: the board no longer asks
        record_event(s, Actor("op"), "bed_clear", "mk4-a", None, "clear", {"checks": []})
    with ctx.db.sessions() as s:
        later = {r.machine_id: r for r in fleet(s, now=datetime.now(UTC) + timedelta(minutes=5))}
    assert not later["mk4-a"].bed_clear_needed and later["mk4-a"].stale
