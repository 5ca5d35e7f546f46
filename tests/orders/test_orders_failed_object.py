"""One failed object on a shared plate: only that order line is scrapped and re-queued, the other
members finish with the plate, and the printer is asked to skip the object (a Moonraker stand-in
stops its moves); a printer that cannot skip one object tells the operator to remove it by hand."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import make_user
from sqlalchemy import func, select
from test_orders_plate_gate import Recorder, event, prints_on_one_printer

from mes_bridge.job_order_ids import job_order_id
from mes_bridge.packets import from_json, to_json
from mes_bridge.transports.base import Packet
from mes_bridge.transports.moonraker import MoonrakerTransport
from orders.adapters.floor_dispatch import dispatch_job_orders
from orders.adapters.outbox import add_message
from orders.commands.floor_events import apply_event
from orders.commands.plate_objects import fail_object
from orders.context import AppContext
from orders.lifecycle import Status
from orders.models import (
    Operation,
    OperationStatus,
    OrderLine,
    OutboxMessage,
    OutboxStatus,
    Role,
)
from orders.queries.job_orders import build_job_order
from orders.queries.plans import current_release
from orders.queries.station import StationUser, station_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mes_bridge"))  # the stand-in

from moonraker_standin import MoonrakerStandIn  # noqa: E402

KEY = "standin-key"


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[MoonrakerStandIn]:
    standin = MoonrakerStandIn(tmp_path / "moonraker", api_key=KEY, print_s=3.0).start()
    yield standin
    standin.close()


def plate_gcode(objects: list[str], layers: int = 120) -> bytes:
    """The plate's G-code with each member's parts labelled by their bed-map name."""
    head = [f"EXCLUDE_OBJECT_DEFINE NAME={o} CENTER=10,10" for o in objects]
    body = []
    for layer in range(layers):
        for o in objects:
            body += [
                f"EXCLUDE_OBJECT_START NAME={o}",
                f"G1 X{layer} E0.1",
                f"EXCLUDE_OBJECT_END NAME={o}",
            ]
    return "\n".join([*head, *body, ""]).encode()


def running_plate(ctx: AppContext, transport: str) -> tuple[int, str, list[int], str]:
    """A released plate of two order lines (b, c) on one printer, delivered and started:
    (version, printer, [b, c], the plate's job order id)."""
    v, (_, b, c), machine = prints_on_one_printer(ctx)
    with ctx.db.transaction() as s:
        plan = current_release(s)
        assert plan is not None
        lines = [s.get_one(Operation, op).order_line_id for op in (b, c)]
        for a in plan.assignments:
            if a.operation_id in (b, c):
                a.plate_key = "P-test"
        layout = [
            {"order_line_id": line, "x_mm": 10 + 60 * i, "y_mm": 10, "w_mm": 50, "h_mm": 50}
            for i, line in enumerate(lines)
        ]
        plates = (plan.kpis or {}).get("plates", {})
        plan.kpis = {**(plan.kpis or {}), "plates": {**plates, "layouts": {"P-test": layout}}}
        s.flush()
        lead = job_order_id(b, v)
        lead_row = next(a for a in plan.assignments if a.operation_id == b)
        job = build_job_order(s, plan, lead_row, "http://hunar.test")
        assert [p.order_line_id for p in job.plate] == [str(x) for x in lines]
        add_message(
            s,
            kind="job_order",
            destination=machine,
            transport=transport,
            key=f"jo:{lead}:{machine}:test",
            payload={"action": "deliver", "job": to_json(job)},
        ).status = OutboxStatus.DELIVERED
        assert apply_event(s, event(b, v, "started")).ok  # one start starts the plate
        assert s.get_one(Operation, c).status == OperationStatus.RUNNING
    return v, machine, [b, c], lead


def operator(ctx: AppContext, machine: str) -> StationUser:
    with ctx.db.transaction() as s:
        user = make_user(s, Role.OPERATOR)
        return StationUser(user.id, "op", Role.OPERATOR.value, (machine,))


def wait_for(predicate: Any, what: str, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_one_failed_object_is_skipped_and_only_its_line_requeued(
    ctx: AppContext, printer: MoonrakerStandIn
) -> None:
    v, machine, (b, c), lead = running_plate(ctx, "moonraker")
    who = operator(ctx, machine)
    with ctx.db.sessions() as s:
        line_b, line_c = (s.get_one(Operation, op).order_line_id for op in (b, c))
        qty_c = s.get_one(Operation, c).quantity
    moon = MoonrakerTransport(printer.url, KEY, machine_id=machine, timeout_s=3.0, poll_s=0.05)
    names = [str(line_b), str(line_c)]
    with moon:
        with ctx.db.sessions() as s:
            row = s.scalars(
                select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(f"jo:{lead}"))
            ).all()[-1]
            job = from_json(row.payload["job"])
        moon.deliver(Packet.from_job(job, {"plate.gcode": plate_gcode(names)}), "k1")
        assert moon.start(lead).sent
        gfile = f"{lead}.gcode"
        wait_for(lambda: printer.object_moves.get(gfile, {}).get(str(line_c), 0) > 3, "printing")
        member_c = job_order_id(c, v)
        with ctx.db.transaction() as s:
            done = fail_object(s, member_c, "fail-1", who, "detached from the plate")
        assert done.ok and done.new_line_id and f"skip object {line_c}" in done.message
        with ctx.db.transaction() as s:  # the double submit, and a second form
            assert fail_object(s, member_c, "fail-1", who, "again").code == "duplicate"
            assert fail_object(s, member_c, "fail-2", who, "again").code == "duplicate"
        assert dispatch_job_orders(ctx, {machine: moon})["delivered"] >= 1
        assert printer.scripts == [f"EXCLUDE_OBJECT NAME={line_c}"]
        frozen = printer.object_moves[gfile][str(line_c)]
        with ctx.db.sessions() as s:
            skips = station_view(s, machine).skips
            assert [(k.object_name, k.by_hand) for k in skips] == [(str(line_c), False)]
        wait_for(lambda: printer.print_stats()["state"] == "complete", "plate ended", 20)
    moves = printer.object_moves[gfile]
    assert moves[str(line_c)] == frozen < moves[str(line_b)] == 120
    with ctx.db.transaction() as s:
        assert apply_event(s, event(b, v, "completed")).ok  # the plate finishes
        ob, oc = s.get_one(Operation, b), s.get_one(Operation, c)
        assert ob.status == oc.status == OperationStatus.DONE
        assert (ob.scrapped_qty, oc.scrapped_qty) == (0, qty_c)
        remakes = s.scalars(select(OrderLine).where(OrderLine.parent_line_id.is_not(None))).all()
        assert [(r.parent_line_id, r.quantity, r.status) for r in remakes] == [
            (line_c, qty_c, Status.CAD_READY)
        ]
        excludes = s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "exclude")
        )
        assert excludes == 1


def test_a_printer_that_cannot_skip_tells_the_operator(ctx: AppContext) -> None:
    v, machine, (b, c), lead = running_plate(ctx, "recorder")
    who = operator(ctx, machine)
    with ctx.db.transaction() as s:
        done = fail_object(s, job_order_id(c, v), "fail-1", who, "spaghetti")
        assert done.ok and done.new_line_id
    assert dispatch_job_orders(ctx, {machine: Recorder()})["delivered"] >= 1
    with ctx.db.sessions() as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "exclude")).one()
        assert row.status == OutboxStatus.DELIVERED, "done, not retried"
        [skip] = station_view(s, machine).skips
        assert skip.by_hand and "printer cannot skip one object: remove it by hand" in skip.message
        assert s.get_one(Operation, c).scrapped_qty == s.get_one(Operation, c).quantity
        assert s.get_one(Operation, b).status == OperationStatus.RUNNING


def test_only_a_running_plate_member_can_fail(ctx: AppContext) -> None:
    from orders.errors import DomainError

    v, (a, b, _), machine = prints_on_one_printer(ctx)
    who = operator(ctx, machine)
    with ctx.db.transaction() as s, pytest.raises(DomainError, match="member"):
        fail_object(s, job_order_id(a, v), "x-1", who, "")  # a single job: scrap it instead
