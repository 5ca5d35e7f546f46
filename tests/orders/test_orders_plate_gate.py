"""The plate-clear gate on every path: a start reported over MQTT or OPC UA and the dispatcher's
start row meet the same rule as the station's button; the job already on the plate still starts;
an auto-eject printer clears its own plate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from factories import make_configuration, make_shop, make_user
from sqlalchemy import select

from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from mes_bridge.transports.base import (
    DeliveryReceipt,
    JobState,
    Packet,
    StartResult,
    Transport,
    now_utc,
)
from orders.adapters.floor_dispatch import dispatch_job_orders, request_start
from orders.adapters.outbox import flush_enqueues
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.commands.station import confirm_bed_clear, press
from orders.context import AppContext
from orders.models import (
    Assignment,
    Event,
    Machine,
    Operation,
    OperationStatus,
    OutboxMessage,
    OutboxStatus,
    Role,
    Schedule,
)
from orders.plate_gate import WAITING, bed_clear_needed, plate_refusal
from orders.queries.station import StationUser

P = Actor("planner")


class Recorder(Transport):
    """A printer that accepts everything and remembers the starts it was asked for."""

    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[str] = []
        self.excluded: list[tuple[str, str]] = []

    def connect(self) -> None: ...

    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        return DeliveryReceipt(self.name, packet.job.job_order_id, idempotency_key, now_utc())

    def read_state(self, job_id: str) -> JobState:
        return JobState.RUNNING if job_id in self.starts else JobState.ALLOWED_TO_START

    def start(self, job_id: str) -> StartResult:
        self.starts.append(job_id)
        return StartResult(job_id, True, JobState.RUNNING)

    def close(self) -> None: ...


def prints_on_one_printer(ctx: AppContext, lines: int = 3) -> tuple[int, list[int], str]:
    """(plan version, print operation ids, printer): a released plan whose prints were moved onto
    one printer, so the gate between consecutive jobs can be exercised."""
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        reqs = [LineRequest(cfg.id, 2) for _ in range(lines)]
        place_order(s, user.id, reqs, uuid.uuid4().hex, Actor("c", user.id), "PKR")
    flush_enqueues(ctx)
    sid = request_plan(ctx, "due_dates", 5, 14, P)
    with ctx.db.transaction() as s:
        approve(s, sid, P)
        version = release(s, sid, P).version
        plan = s.get_one(Schedule, sid)
        prints = sorted(
            (a for a in plan.assignments if s.get_one(Operation, a.operation_id).process == "fdm"),
            key=lambda a: a.operation_id,
        )
        one_per_line = {s.get_one(Operation, a.operation_id).order_line_id: a for a in prints}
        chosen = sorted(one_per_line.values(), key=lambda a: a.operation_id)[:lines]
        machine = chosen[0].machine_id
        for a in plan.assignments:
            a.plate_key = None  # single jobs: each start is a new job on the plate
        ops = [a.operation_id for a in chosen]
        for a in plan.assignments:
            if a.operation_id in ops:  # every row of the op (a long print may be split)
                a.machine_id = machine
        return version, ops, machine


def event(op: int, version: int, kind: str, source: str = "mqtt", **kw: Any) -> StatusEvent:
    return StatusEvent(
        job_order_id=job_order_id(op, version),
        kind=kind,
        at=datetime.now(UTC),
        event_id=str(uuid.uuid4()),
        source=source,
        **kw,
    )


def admin(s: Any) -> StationUser:
    return StationUser.load(s, make_user(s, Role.ADMIN).id)


def finish_first_print(ctx: AppContext, version: int, op: int) -> None:
    with ctx.db.transaction() as s:
        assert apply_event(s, event(op, version, "started", "button")).ok
        assert apply_event(s, event(op, version, "completed")).ok


def test_a_reported_start_on_an_unconfirmed_plate_is_refused(ctx: AppContext) -> None:
    v, (a, b, c), machine = prints_on_one_printer(ctx)
    finish_first_print(ctx, v, a)
    with ctx.db.transaction() as s:
        assert bed_clear_needed(s, machine)
        for source in ("mqtt", "opcua", "rest"):
            refused = apply_event(s, event(b, v, "started", source))
            assert refused.code == "plate_not_clear", source
            assert f"plate of {machine} is not confirmed clear" in refused.message
        assert s.get_one(Operation, b).status == OperationStatus.RELEASED
        reasons = s.scalars(
            select(Event.to_state).where(Event.entity_type == "floor_rejection")
        ).all()
        assert reasons == ["plate_not_clear"] * 3
        # the station's button asks the same rule
        assert press(s, job_order_id(b, v), "start", "btn-1", admin(s)).code == "bed_not_clear"
    with ctx.db.transaction() as s:
        assert confirm_bed_clear(s, machine, admin(s), ["bed clear", "qc"])
        assert apply_event(s, event(b, v, "started")).ok
        assert s.get_one(Operation, b).status == OperationStatus.RUNNING


def test_the_job_already_on_the_plate_still_starts(ctx: AppContext) -> None:
    """A re-reported start of the job the printer holds is not a new job on the plate: a resume,
    and a start whose start command already went to the printer, still apply."""
    v, (a, b, c), machine = prints_on_one_printer(ctx)
    with ctx.db.transaction() as s:
        assert apply_event(s, event(b, v, "started")).ok  # plate clear: nothing printed yet
        assert apply_event(s, event(b, v, "paused")).ok
        jo_c = job_order_id(c, v)
        request_start(s, jo_c, machine, "mqtt").status = OutboxStatus.DELIVERED
    finish_first_print(ctx, v, a)  # a print finished after: the plate is not clear now
    with ctx.db.transaction() as s:
        assert bed_clear_needed(s, machine)
        assert apply_event(s, event(b, v, "started")).message == "resumed"
        assert plate_refusal(s, jo_c) == "", "its start went to the printer: it is on the plate"
        assert apply_event(s, event(c, v, "started", "opcua")).ok
        assert s.get_one(Operation, c).status == OperationStatus.RUNNING


def test_the_dispatcher_holds_a_start_until_the_plate_is_confirmed(ctx: AppContext) -> None:
    v, (a, b, _), machine = prints_on_one_printer(ctx)
    finish_first_print(ctx, v, a)
    jo_b = job_order_id(b, v)
    with ctx.db.transaction() as s:
        row_id = request_start(s, jo_b, machine, "recorder").id
    printer = Recorder()
    for _ in range(2):
        dispatch_job_orders(ctx, {machine: printer})
        with ctx.db.transaction() as s:
            row = s.get_one(OutboxMessage, row_id)
            assert row.status == OutboxStatus.PENDING and row.attempts == 0
            assert (row.last_error or "").startswith(WAITING)
            row.next_attempt_at = datetime.now(UTC)  # looked at again: still held
    assert jo_b not in printer.starts
    with ctx.db.transaction() as s:
        assert confirm_bed_clear(s, machine, admin(s), ["bed clear", "qc"], via="qr")
        assert s.get_one(OutboxMessage, row_id).last_error is None, "released at once"
    dispatch_job_orders(ctx, {machine: printer})
    with ctx.db.sessions() as s:
        assert s.get_one(OutboxMessage, row_id).status == OutboxStatus.DELIVERED
    assert printer.starts == [jo_b]


def test_an_auto_eject_printer_clears_its_own_plate(ctx: AppContext) -> None:
    v, (a, b, _), machine = prints_on_one_printer(ctx)
    with ctx.db.transaction() as s:
        m = s.get_one(Machine, machine)
        m.transport_config = {**(m.transport_config or {}), "auto_eject": True}
    finish_first_print(ctx, v, a)
    with ctx.db.transaction() as s:
        assert not bed_clear_needed(s, machine)
        assert not confirm_bed_clear(s, machine, admin(s), ["bed clear", "qc"]), "already clear"
        assert apply_event(s, event(b, v, "started")).ok
    with ctx.db.transaction() as s:
        a_row = s.scalars(select(Assignment).where(Assignment.operation_id == a)).first()
        assert a_row is not None and a_row.machine_id == machine


def test_a_second_print_cannot_start_while_one_is_printing(ctx: AppContext) -> None:
    """Seen in the soak: two plates started on one printer, both running; the next proposal had
    no plan at all ("frozen operations overlap"). No print had finished, so the bed-clear rule
    alone let the second start through. A printer makes one plate at a time."""
    v, (a, b, _c), machine = prints_on_one_printer(ctx)
    with ctx.db.transaction() as s:
        assert apply_event(s, event(a, v, "started", "button")).ok
        refused = apply_event(s, event(b, v, "started"))
        assert refused.code == "plate_not_clear"
        assert f"{machine} is still printing operation {a}" in refused.message
        assert press(s, job_order_id(b, v), "start", "btn-2", admin(s)).code == "bed_not_clear"
        assert s.get_one(Operation, b).status == OperationStatus.RELEASED
        assert apply_event(s, event(a, v, "paused")).ok  # paused is still on the plate
        assert apply_event(s, event(b, v, "started")).code == "plate_not_clear"
        assert apply_event(s, event(a, v, "started")).ok  # resumed
        assert apply_event(s, event(a, v, "completed")).ok
        assert confirm_bed_clear(s, machine, admin(s), ["bed clear"])
        assert apply_event(s, event(b, v, "started")).ok
