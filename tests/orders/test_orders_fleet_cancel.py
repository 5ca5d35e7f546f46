"""Cancelling a running print from the fleet board: what is left of the job is scrapped through
the floor's ordinary scrap (a remake line per order line and a re-plan request), the job ends
(the plate then needs clearing), and the printer is asked to stop through a `cancel` outbox row.
Delivered here to the Moonraker protocol stand-in (`tests/mes_bridge/moonraker_standin.py`,
not a real Moonraker: Klipper and Moonraker are on no registry reachable here), whose print
really stops; a printer without `cancel()` closes the row telling the planner to stop it by
hand. Concurrent presses cancel once. Both engines."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import make_user
from shared_helpers import at_once
from sqlalchemy import func, select
from test_orders_failed_object import (
    KEY,
    MoonrakerStandIn,
    operator,
    plate_gcode,
    running_plate,
    wait_for,
)
from test_orders_plate_gate import Recorder, event, prints_on_one_printer

from mes_bridge.dispatch import HAND_STOP
from mes_bridge.job_order_ids import job_order_id
from mes_bridge.packets import from_json
from mes_bridge.transports.base import Packet
from mes_bridge.transports.moonraker import MoonrakerTransport
from orders.adapters.floor_dispatch import dispatch_job_orders, request_start
from orders.commands.fleet_cancel import CANCELLED, cancel_print
from orders.commands.floor_events import apply_event
from orders.context import AppContext
from orders.errors import DomainError, NotFound
from orders.lifecycle import Status
from orders.models import (
    Event,
    Operation,
    OperationStatus,
    OrderLine,
    OutboxMessage,
    OutboxStatus,
    Role,
    Schedule,
    ScheduleState,
)
from orders.plate_gate import bed_clear_needed
from orders.queries.fleet_cancels import cancel_notes
from orders.queries.station import NotYourStation, StationUser


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[MoonrakerStandIn]:
    standin = MoonrakerStandIn(tmp_path / "moonraker", api_key=KEY, print_s=30.0).start()
    yield standin
    standin.close()


def planner(ctx: AppContext) -> StationUser:
    """A planner (no stations): may cancel on any printer."""
    with ctx.db.transaction() as s:
        return StationUser.load(s, make_user(s, Role.PLANNER).id)


def cancel_rows(ctx: AppContext) -> list[OutboxMessage]:
    with ctx.db.sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "cancel")).all()
        for r in rows:
            s.expunge(r)
        return list(rows)


def test_cancel_stops_the_moonraker_print_and_remakes_every_line(
    ctx: AppContext, printer: MoonrakerStandIn
) -> None:
    v, machine, (b, c), lead = running_plate(ctx, "moonraker")
    who = planner(ctx)
    with ctx.db.sessions() as s:
        lines = [s.get_one(Operation, op).order_line_id for op in (b, c)]
        qtys = [s.get_one(Operation, op).quantity for op in (b, c)]
        proposals = s.scalar(select(func.count()).select_from(Schedule))
    moon = MoonrakerTransport(printer.url, KEY, machine_id=machine, timeout_s=3.0, poll_s=0.05)
    with moon:
        with ctx.db.sessions() as s:
            row = s.scalars(
                select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(f"jo:{lead}"))
            ).all()[-1]
            job = from_json(row.payload["job"])
        moon.deliver(
            Packet.from_job(job, {"plate.gcode": plate_gcode([str(x) for x in lines])}), "k"
        )
        assert moon.start(lead).sent
        wait_for(lambda: printer.print_stats()["state"] == "printing", "printing")
        with ctx.db.transaction() as s:
            done = cancel_print(s, machine, job_order_id(c, v), "spaghetti", "form-1", who)
        assert done.ok and done.code == "applied" and len(done.remakes) == 2
        assert f"asked {machine} to stop" in done.message
        with ctx.db.transaction() as s:  # the same form again, and another planner's form
            again = cancel_print(s, machine, lead, "again", "form-1", who)
            other = cancel_print(s, machine, lead, "again", "form-2", who)
        assert again.code == other.code == "duplicate"
        assert dispatch_job_orders(ctx, {machine: moon})["delivered"] >= 1
        wait_for(lambda: printer.print_stats()["state"] == "cancelled", "print cancelled")
    [row] = cancel_rows(ctx)
    assert row.status == OutboxStatus.DELIVERED and row.receipt["detail"] == "cancelled"
    with ctx.db.sessions() as s:
        for op, qty in zip((b, c), qtys, strict=True):
            o = s.get_one(Operation, op)
            assert (o.status, o.scrapped_qty) == (OperationStatus.DONE, qty)
        remakes = s.scalars(select(OrderLine).where(OrderLine.parent_line_id.is_not(None))).all()
        assert sorted((r.parent_line_id, r.quantity, r.status) for r in remakes) == sorted(
            (line, qty, Status.CAD_READY) for line, qty in zip(lines, qtys, strict=True)
        )
        assert s.scalar(select(func.count()).select_from(Schedule)) > proposals  # a re-plan
        assert s.scalars(select(Schedule).order_by(Schedule.id.desc())).first().state == (
            ScheduleState.PROPOSED
        )
        assert bed_clear_needed(s, machine)  # the half-printed plate must be cleared
        assert cancel_notes(s) == {machine: f"{lead} cancelled on the printer"}
        logged = s.scalars(select(Event).where(Event.to_state == CANCELLED)).all()
        assert [(e.entity_id, e.payload["reason"]) for e in logged] == [(lead, "spaghetti")]


def test_a_printer_that_cannot_cancel_tells_the_planner_to_stop_it_by_hand(
    ctx: AppContext,
) -> None:
    v, machine, (b, _), lead = running_plate(ctx, "recorder")
    who = planner(ctx)
    with ctx.db.transaction() as s:
        assert cancel_print(s, machine, lead, "wrong colour", "f", who).ok
    assert dispatch_job_orders(ctx, {machine: Recorder()})["delivered"] >= 1
    [row] = cancel_rows(ctx)
    assert row.status == OutboxStatus.DELIVERED, "answered, not retried"
    assert row.receipt["detail"].startswith(HAND_STOP)
    with ctx.db.sessions() as s:
        assert cancel_notes(s) == {machine: f"cancel of {lead}: {HAND_STOP}"}


def test_a_start_never_sent_is_withdrawn_instead(ctx: AppContext) -> None:
    v, (a, _, _), machine = prints_on_one_printer(ctx)
    who = planner(ctx)
    job = job_order_id(a, v)
    with ctx.db.transaction() as s:
        assert apply_event(s, event(a, v, "started", "button")).ok
        request_start(s, job, machine, "recorder")
        done = cancel_print(s, machine, job, "operator pressed the wrong job", "k", who)
    assert done.ok and "withdrawn" in done.message
    assert cancel_rows(ctx) == []
    with ctx.db.sessions() as s:
        start = s.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == f"start:{job}")
        ).one()
        assert start.status == OutboxStatus.DEAD and "withdrawn" in (start.last_error or "")


def test_refusals_name_the_field_or_the_rule(ctx: AppContext) -> None:
    v, (a, b, _), machine = prints_on_one_printer(ctx)
    who = planner(ctx)
    running, waiting = job_order_id(a, v), job_order_id(b, v)
    stranger, own = operator(ctx, "another-printer"), operator(ctx, machine)
    with ctx.db.transaction() as s:
        assert apply_event(s, event(a, v, "started", "button")).ok
    with ctx.db.transaction() as s:
        with pytest.raises(DomainError) as no_reason:
            cancel_print(s, machine, running, "  ", "k", who)
        assert no_reason.value.fields == {"reason": "required"}
        with pytest.raises(DomainError) as no_key:
            cancel_print(s, machine, running, "why", "", who)
        assert "form_key" in no_key.value.fields
        with pytest.raises(NotFound):
            cancel_print(s, "no-such-printer", running, "why", "k", who)
        with pytest.raises(NotFound):
            cancel_print(s, machine, "JO-999999-v1", "why", "k", who)
        with pytest.raises(NotYourStation):
            cancel_print(s, machine, running, "why", "k", stranger)
        assert cancel_print(s, machine, waiting, "why", "k", who).code == "out_of_order"
    with ctx.db.transaction() as s:  # the operator of that station may
        assert cancel_print(s, machine, running, "why", "k", own).ok


def test_concurrent_presses_cancel_once(ctx: AppContext) -> None:
    v, machine, (b, c), lead = running_plate(ctx, "recorder")
    who = planner(ctx)
    keys = iter([*(["same"] * 4), *(uuid.uuid4().hex for _ in range(4))])
    pairs = [next(keys) for _ in range(8)]

    def press() -> str:
        key = pairs.pop()
        with ctx.db.transaction() as s:
            return cancel_print(s, machine, lead, "jam", key, who).code

    codes = at_once(8, press)
    assert sorted(codes) == ["applied", *(["duplicate"] * 7)], codes
    assert len(cancel_rows(ctx)) == 1
    with ctx.db.sessions() as s:
        remakes = s.scalar(
            select(func.count()).select_from(OrderLine).where(OrderLine.parent_line_id.is_not(None))
        )
        assert remakes == 2
        assert s.scalar(select(func.count()).select_from(Event).where(
            Event.to_state == CANCELLED)) == 1  # fmt: skip
