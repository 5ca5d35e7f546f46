"""Floor events move operations, lines and orders; replays and out-of-order events are refused;
scrap re-queues only the scrapped parts; a machine going down asks for a new plan."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from factories import make_configuration, make_shop, make_user
from sqlalchemy import func, select

from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from orders.adapters.outbox import flush_enqueues
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.context import AppContext
from orders.lifecycle import Status
from orders.models import (
    Event,
    Machine,
    MachineState,
    Operation,
    OperationStatus,
    Order,
    OrderLine,
    Schedule,
)

P = Actor("planner")


def _released(ctx: AppContext) -> tuple[int, int]:
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        oid = place_order(
            s, user.id, [LineRequest(cfg.id, 4)], "k", Actor("c", user.id), "PKR"
        ).order.id
    flush_enqueues(ctx)
    sid = request_plan(ctx, "due_dates", 5, 14, P)
    with ctx.db.transaction() as s:
        approve(s, sid, P)
        version = release(s, sid, P).version
    return oid, version


def ev(op: int, version: int, kind: str, **kw: object) -> StatusEvent:
    return StatusEvent(
        job_order_id=job_order_id(op, version),
        kind=kind,
        at=datetime.now(UTC),
        event_id=str(uuid.uuid4()),
        source="button",
        **kw,
    )  # type: ignore[arg-type]


def test_events_walk_a_line_to_completion_and_scrap_requeues(ctx: AppContext) -> None:
    oid, v = _released(ctx)
    with ctx.db.transaction() as s:
        ops = s.scalars(select(Operation).order_by(Operation.seq)).all()
        first, last = ops[0].id, ops[-1].id
        start = ev(first, v, "started")
        assert apply_event(s, start).ok
        assert apply_event(s, start).code == "duplicate"
        assert s.get_one(Order, oid).status == Status.IN_PRODUCTION
        assert apply_event(s, ev(last, v, "completed")).code == "out_of_order", "pack not started"
        assert apply_event(s, ev(first, v, "completed")).ok
        scrap = apply_event(s, ev(first, v, "scrapped", qty=1, reason="warped corner"))
        assert scrap.ok and scrap.new_line_id
        assert apply_event(s, ev(first, v, "scrapped", qty=99)).code == "out_of_order"
        remake = s.get_one(OrderLine, scrap.new_line_id)
        assert remake.quantity == 1 and remake.parent_line_id is not None
        assert remake.status == Status.CAD_READY
        assert (
            s.scalar(
                select(func.count())
                .select_from(Operation)
                .where(Operation.order_line_id == remake.id)
            )
            >= 3
        )
        for op in ops[1:]:  # plate members may already run with the first; finish every step
            if op.status == OperationStatus.RELEASED:
                assert apply_event(s, ev(op.id, v, "started")).ok
            if op.status == OperationStatus.RUNNING:
                assert apply_event(s, ev(op.id, v, "completed")).ok
        line = s.get_one(OrderLine, ops[0].order_line_id)
        assert line.status == Status.COMPLETED
        assert {o.status for o in ops} == {OperationStatus.DONE}
        assert s.get_one(Order, oid).status != Status.COMPLETED, "the remake is still open"
        assert apply_event(s, ev(99999, v, "started")).code == "unknown_job"
        refusals = s.scalars(select(Event.to_state).where(Event.entity_type == "floor_rejection"))
        assert sorted(refusals) == ["duplicate", "out_of_order", "out_of_order", "unknown_job"]


def test_machine_down_requests_a_rescheduling_proposal(ctx: AppContext) -> None:
    _released(ctx)
    with ctx.db.transaction() as s:
        before = s.scalar(select(func.count()).select_from(Schedule))
        down = StatusEvent(
            job_order_id="",
            kind="machine_down",
            at=datetime.now(UTC),
            event_id="d1",
            source="mqtt",
            machine_id="fdm-mk4-02",
            reason="heater",
        )
        res = apply_event(s, down)
        assert res.ok and res.proposal_requested
        assert s.get_one(Machine, "fdm-mk4-02").state == MachineState.DOWN
    flush_enqueues(ctx)
    with ctx.db.sessions() as s:
        newest = s.scalars(select(Schedule).order_by(Schedule.version.desc())).first()
        assert s.scalar(select(func.count()).select_from(Schedule)) == before + 1
        assert newest is not None and newest.solver_status in ("OPTIMAL", "FEASIBLE")
        assert "fdm-mk4-02" in (newest.note or "")
        assert all(a.machine_id != "fdm-mk4-02" or a.frozen for a in newest.assignments)


def test_promise_uses_capable_to_promise_once_a_plan_is_released(ctx: AppContext) -> None:
    from orders.queries.catalog import load_config
    from orders.queries.promise import capable_to_promise, promise_for

    with ctx.db.sessions() as s:
        assert capable_to_promise(s, datetime.now(UTC)) is None, "no released plan yet"
    _released(ctx)
    with ctx.db.sessions() as s:
        ctp = capable_to_promise(s, datetime.now(UTC))
        assert ctp is not None
        from orders.models import ProductConfiguration

        config = load_config(s.scalars(select(ProductConfiguration)).first())  # type: ignore[arg-type]
        ship = promise_for(s, config, 2, "express", datetime.now(UTC))
        assert ship is not None and ship >= datetime.now(UTC).date()


def test_mqtt_status_messages_move_the_plan(ctx: AppContext) -> None:
    """A real Mosquitto round trip: the machine publishes on its status topic, intake applies it."""
    import json
    import time

    import paho.mqtt.publish as publish

    from orders.floor_intake import MqttIntake
    from services import MQTT_HOST, MQTT_PORT

    ctx.settings.site = f"t{uuid.uuid4().hex[:6]}"
    _, v = _released(ctx)
    with ctx.db.sessions() as s:
        first = s.scalars(select(Operation).order_by(Operation.seq)).first()
        assert first is not None
        machine = first.eligible and sorted(first.eligible)[0]
    listener = MqttIntake(ctx)
    listener.start()
    try:
        assert listener.subscribed.wait(10)
        topic = f"hunar/{ctx.settings.site}/{machine}/status"
        good = {
            "job_order_id": job_order_id(first.id, v),
            "kind": "started",
            "at": datetime.now(UTC).isoformat(),
            "event_id": "m-1",
        }
        for payload in (b"{not json", json.dumps(good), json.dumps(good)):
            publish.single(topic, payload, qos=1, hostname=MQTT_HOST, port=MQTT_PORT)
        deadline = time.monotonic() + 15
        while sum(listener.stats.counts.values()) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        listener.stop()
    assert listener.stats.counts == {"malformed": 1, "applied": 1, "duplicate": 1}
    with ctx.db.sessions() as s:
        assert s.get_one(Operation, first.id).status == OperationStatus.RUNNING


def test_out_of_range_or_unicode_job_order_ids_are_unknown_jobs_not_errors(ctx: AppContext) -> None:
    """Machines send job order ids over MQTT, OPC UA and webhooks: an id too large for the database
    or written in non-ASCII digits is refused like any unknown job (it used to overflow on PG)."""
    with ctx.db.transaction() as s:
        make_shop(s)
        for i, jo in enumerate(("JO-99999999999999999999-v1", "JO-1-v99999999999", "JO-١٢-v1")):
            ev = StatusEvent(
                job_order_id=jo,
                kind="started",
                at=datetime.now(UTC),
                event_id=f"big{i}",
                source="mqtt",
            )
            assert apply_event(s, ev).code == "unknown_job", jo
