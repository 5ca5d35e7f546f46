"""The end of the lifecycle (issue 14): ship with a delivery note, deliver, cancel by the
customer before production and by staff at any time, withdrawn floor work, a proposed re-plan,
and concurrent duplicates taking effect once. Both engines, real threads."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import make_configuration, make_shop, make_user, released_plan
from shared_helpers import at_once, pdf_text
from sqlalchemy import func, select

from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.fulfilment import (
    CancelRefused,
    OrderConflict,
    cancel_order,
    deliver_order,
    delivery_note,
    ship_order,
)
from orders.commands.ordering import LineRequest, place_order
from orders.context import AppContext
from orders.errors import DomainError, IllegalTransition, NotFound
from orders.lifecycle import Status
from orders.models import (
    Event,
    Operation,
    OperationStatus,
    Order,
    OrderLine,
    OutboxMessage,
    OutboxStatus,
    Schedule,
)
from orders.models.orders import Shipment
from orders.queries.reports import reports

STAFF = Actor("shipping clerk")


def finish_all(ctx: AppContext, order_id: int, version: int) -> None:
    """Start and complete every operation of the order on the floor, in routing order."""
    with ctx.db.sessions() as s:
        ops = s.scalars(
            select(Operation.id)
            .join(OrderLine, OrderLine.id == Operation.order_line_id)
            .where(OrderLine.order_id == order_id)
            .order_by(Operation.order_line_id, Operation.seq)
        ).all()
    for op_id in ops:
        for kind in ("started", "completed"):
            ev = StatusEvent(
                job_order_id=job_order_id(op_id, version),
                kind=kind,
                at=datetime.now(UTC),
                event_id=uuid.uuid4().hex,
                source="button",
            )
            with ctx.db.transaction() as s:
                apply_event(s, ev, Actor("operator"))


def placed_order(ctx: AppContext) -> tuple[int, int]:
    """(order id, customer id) of a freshly placed one-line order (no plan yet)."""
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        oid = place_order(
            s, user.id, [LineRequest(cfg.id, 2)], uuid.uuid4().hex, Actor("c", user.id), "PKR"
        ).order.id
        return oid, user.id


def events_to(ctx: AppContext, entity: str, entity_id: int, state: str) -> list[Event]:
    with ctx.db.sessions() as s:
        return list(
            s.scalars(
                select(Event).where(
                    Event.entity_type == entity,
                    Event.entity_id == str(entity_id),
                    Event.to_state == state,
                )
            )
        )


def test_ship_then_deliver_with_a_delivery_note_and_audit_events(ctx: AppContext) -> None:
    oid, version = released_plan(ctx, qty=2)
    finish_all(ctx, oid, version)
    with ctx.db.sessions() as s:
        assert s.get_one(Order, oid).status == Status.COMPLETED
    with ctx.db.transaction() as s:
        shipment = ship_order(s, oid, "  TCS ", "TCS-123 456", STAFF)
        sid = shipment.id
    with ctx.db.sessions() as s:
        order = s.get_one(Order, oid)
        assert order.status == Status.SHIPPED
        assert {ln.status for ln in order.lines} == {Status.SHIPPED}
        note = delivery_note(s, oid, order.customer_id)
        text = pdf_text(note.note_pdf)
    assert note.note_pdf.startswith(b"%PDF") and note.id == sid
    assert f"Delivery note - order #{oid}" in text
    assert "Carrier: TCS" in text and "Tracking number: TCS-123 456" in text
    assert "enclosure x 2" in text and "Parts in this parcel: 2" in text
    (shipped,) = events_to(ctx, "order", oid, "shipped")
    assert shipped.actor == "shipping clerk" and shipped.at is not None
    assert shipped.payload["carrier"] == "TCS"
    with ctx.db.transaction() as s:
        deliver_order(s, oid, STAFF)
    with ctx.db.sessions() as s:
        order = s.get_one(Order, oid)
        assert order.status == Status.DELIVERED
        assert {ln.status for ln in order.lines} == {Status.DELIVERED}
        assert s.scalars(select(Shipment)).one().delivered_at is not None
    assert len(events_to(ctx, "order", oid, "delivered")) == 1
    with pytest.raises(OrderConflict, match="already delivered"), ctx.db.transaction() as s:
        deliver_order(s, oid, STAFF)
    # the planner's reports fill from the real ship transition
    with ctx.db.sessions() as s:
        series = {x.key: x for x in reports(s, datetime.now(UTC) + timedelta(hours=1))}
    assert [label for label, _ in series["lead_time"].points] == [f"#{oid}"]
    assert sum(v for _, v in series["on_time"].points) == 100.0  # shipped before its promise


@pytest.mark.parametrize(
    "carrier,tracking,field",
    [
        ("", "123456", "carrier"),
        ("TCS", "", "tracking_number"),
        ("TCS", "ab", "tracking_number"),
        ("TCS", "<script>", "tracking_number"),
        ("x" * 65, "123456", "carrier"),
    ],
)
def test_ship_needs_carrier_and_tracking_number(
    ctx: AppContext, carrier: str, tracking: str, field: str
) -> None:
    oid, _ = placed_order(ctx)
    with pytest.raises(DomainError) as info, ctx.db.transaction() as s:
        ship_order(s, oid, carrier, tracking, STAFF)
    assert field in info.value.fields and field.replace("_", " ") in info.value.message


def test_only_a_completed_order_ships(ctx: AppContext) -> None:
    oid, _ = placed_order(ctx)
    with pytest.raises(IllegalTransition, match="only a completed order ships"):
        with ctx.db.transaction() as s:
            ship_order(s, oid, "TCS", "123456", STAFF)
    with pytest.raises(NotFound), ctx.db.sessions() as s:
        delivery_note(s, oid)


def test_customer_cancels_before_production(ctx: AppContext) -> None:
    oid, customer = placed_order(ctx)
    with pytest.raises(NotFound), ctx.db.transaction() as s:  # someone else's order
        cancel_order(s, oid, Actor("mallory", customer + 100), None, customer_id=customer + 100)
    with ctx.db.transaction() as s:
        result = cancel_order(s, oid, Actor("c", customer), "changed my mind", customer_id=customer)
    assert result.changed and result.proposal_id is None  # nothing was planned yet
    with ctx.db.sessions() as s:
        order = s.get_one(Order, oid)
        assert order.status == Status.CANCELLED
        assert {ln.status for ln in order.lines} == {Status.CANCELLED}
        ops = s.scalars(select(Operation.status)).all()
        assert set(ops) <= {OperationStatus.CANCELLED}
    (ev,) = events_to(ctx, "order", oid, "cancelled")
    assert ev.actor_id == customer and ev.payload["reason"] == "changed my mind"


def test_customer_may_not_cancel_once_work_is_on_the_floor(ctx: AppContext) -> None:
    oid, _ = released_plan(ctx, qty=2)
    with ctx.db.sessions() as s:
        customer = s.get_one(Order, oid).customer_id
    with pytest.raises(CancelRefused) as info, ctx.db.transaction() as s:
        cancel_order(s, oid, Actor("c", customer), None, customer_id=customer)
    assert "customers may cancel until the work is sent to the shop floor" in info.value.message
    assert info.value.fields == {"order": "production has started"}
    with ctx.db.sessions() as s:
        assert s.get_one(Order, oid).status == Status.RELEASED


def test_staff_cancel_in_production_withdraws_floor_work_and_proposes_a_replan(
    ctx: AppContext,
) -> None:
    oid, version = released_plan(ctx, qty=2)
    with ctx.db.sessions() as s:
        first = s.scalars(select(Operation).order_by(Operation.seq)).first()
        assert first is not None
        pending_before = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "job_order", OutboxMessage.status == OutboxStatus.PENDING)
        )
    assert pending_before
    ev = StatusEvent(
        job_order_id=job_order_id(first.id, version),
        kind="started",
        at=datetime.now(UTC),
        event_id=uuid.uuid4().hex,
        source="button",
    )
    with ctx.db.transaction() as s:
        assert apply_event(s, ev, Actor("operator")).ok
        assert s.get_one(Order, oid).status == Status.IN_PRODUCTION
    with pytest.raises(DomainError) as info, ctx.db.transaction() as s:
        cancel_order(s, oid, STAFF, "   ")
    assert info.value.fields.keys() == {"reason"}
    with ctx.db.transaction() as s:
        result = cancel_order(s, oid, STAFF, "customer's company closed")
    assert result.changed and result.operations_withdrawn >= 1 and result.proposal_id
    with ctx.db.sessions() as s:
        assert s.get_one(Order, oid).status == Status.CANCELLED
        running = s.get_one(Operation, first.id)
        assert running.status == OperationStatus.RUNNING  # the operator finishes or stops it
        others = s.scalars(select(Operation.status).where(Operation.id != first.id)).all()
        assert set(others) == {OperationStatus.CANCELLED}
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "job_order")).all()
        dead = [r for r in rows if r.status == OutboxStatus.DEAD]
        assert dead and all("withdrawn: order" in (r.last_error or "") for r in dead)
        assert result.messages_withdrawn == len(dead)
        started_key = f"jo:{job_order_id(first.id, version)}:"
        live = [r for r in rows if r.status == OutboxStatus.PENDING]
        assert all(r.idempotency_key.startswith(started_key) for r in live)
        proposal = s.get_one(Schedule, result.proposal_id)
        assert proposal.note == f"re-plan: order {oid} cancelled"
    (ev_row,) = events_to(ctx, "order", oid, "cancelled")
    assert ev_row.from_state == "in_production" and ev_row.payload["by"] == "staff"
    # the floor can no longer start a withdrawn job
    with ctx.db.sessions() as s:
        other = s.scalars(select(Operation.id).where(Operation.id != first.id)).first()
    assert other is not None
    start = StatusEvent(
        job_order_id=job_order_id(other, version),
        kind="started",
        at=datetime.now(UTC),
        event_id=uuid.uuid4().hex,
        source="button",
    )
    with ctx.db.transaction() as s:
        assert not apply_event(s, start, Actor("operator")).ok


def test_two_cancels_at_once_take_effect_once(ctx: AppContext) -> None:
    oid, _ = released_plan(ctx, qty=2)

    def cancel() -> Any:
        with ctx.db.transaction() as s:
            return cancel_order(s, oid, STAFF, "duplicate order")

    results = at_once(4, cancel)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.changed for r in results) == 1
    assert len(events_to(ctx, "order", oid, "cancelled")) == 1
    with ctx.db.sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(Schedule).where(Schedule.note.is_not(None)))
            == 1
        )


def test_a_cancel_racing_a_ship_takes_effect_once(ctx: AppContext) -> None:
    oid, version = released_plan(ctx, qty=2)
    finish_all(ctx, oid, version)

    def ship() -> Any:
        with ctx.db.transaction() as s:
            return ship_order(s, oid, "Leopards", "LP-998877", STAFF).id

    def cancel() -> Any:
        with ctx.db.transaction() as s:
            return cancel_order(s, oid, STAFF, "customer called")

    gate = threading.Barrier(4)

    def run(i: int) -> Any:
        gate.wait()
        try:
            return (ship, cancel)[i % 2]()
        except Exception as exc:  # noqa: BLE001 - inspected below
            return exc

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    conflicts = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, OrderConflict) for r in conflicts), conflicts
    with ctx.db.sessions() as s:
        status = s.get_one(Order, oid).status
        shipments = s.scalar(select(func.count()).select_from(Shipment))
    assert status in (Status.SHIPPED, Status.CANCELLED)
    assert shipments == (1 if status == Status.SHIPPED else 0)
    assert len(events_to(ctx, "order", oid, status.value)) == 1


def test_a_late_shipment_is_not_on_time(ctx: AppContext) -> None:
    oid, version = released_plan(ctx, qty=1)
    finish_all(ctx, oid, version)
    with ctx.db.transaction() as s:
        for line in s.get_one(Order, oid).lines:
            line.promised_ship_date = datetime.now(UTC).date() - timedelta(days=2)
        ship_order(s, oid, "TCS", "LATE-1", STAFF)
    with ctx.db.sessions() as s:
        series = {x.key: x for x in reports(s, datetime.now(UTC) + timedelta(hours=1))}
    assert [label for label, _ in series["lead_time"].points] == [f"#{oid}"]
    assert sum(v for _, v in series["on_time"].points) == 0.0


def test_cli_ship_and_deliver(ctx: AppContext) -> None:
    from click.testing import CliRunner

    from orders.cli import main

    oid, version = released_plan(ctx, qty=1)
    finish_all(ctx, oid, version)
    env = {
        "HUNAR_DATABASE_URL": ctx.settings.resolved_database_url(),
        "HUNAR_VAR_DIR": str(ctx.settings.var_dir),
    }
    runner = CliRunner()
    bad = runner.invoke(main, ["ship", str(oid), "--carrier", "TCS", "--tracking", "x"], env=env)
    assert bad.exit_code == 1 and "tracking_number" in bad.output
    ok = runner.invoke(
        main, ["ship", str(oid), "--carrier", "TCS", "--tracking", "CLI-42"], env=env
    )
    assert ok.exit_code == 0, ok.output
    assert f"order {oid} shipped with TCS, tracking CLI-42" in ok.output
    done = runner.invoke(main, ["deliver", str(oid)], env=env)
    assert done.exit_code == 0 and f"order {oid} delivered" in done.output
    (ev,) = events_to(ctx, "order", oid, "delivered")
    assert ev.actor.startswith("cli:")
