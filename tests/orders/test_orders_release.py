"""A released plan reaches the floor through the outbox: every assignment is a job order on a
real Mosquitto broker, exactly once, and B2MML-valid; a second dispatch pass sends nothing."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from factories import make_configuration, make_settings, make_shop, make_user
from sqlalchemy import select, update

from orders.adapters.floor_dispatch import dispatch_job_orders, transports_for
from orders.adapters.outbox import flush_enqueues
from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.context import AppContext
from orders.models import Machine, OutboxMessage, OutboxStatus, Schedule
from services import MQTT_HOST, MQTT_PORT

SHARED = Path(__file__).resolve().parents[3] / "shared" / "standards" / "b2mml"


class Subscriber:
    def __init__(self, topic: str) -> None:
        self.messages: list[tuple[str, dict]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append(
            (m.topic, json.loads(m.payload))
        )
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.loop_start()
        assert self.ready.wait(10), "could not subscribe on Mosquitto"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def mqtt_ctx(backend: str, db_factory, tmp_path: Path, artifact_cache: Path):  # type: ignore[no-untyped-def]
    site = f"test-{uuid.uuid4().hex[:8]}"
    ctx = AppContext.from_settings(
        make_settings(tmp_path, db_factory.url(backend), site=site, artifact_dir=artifact_cache)
    )
    yield ctx
    ctx.close()


def test_release_reaches_mqtt_exactly_once(mqtt_ctx: AppContext) -> None:
    ctx = mqtt_ctx
    with ctx.db.transaction() as s:
        make_shop(s)
        s.execute(update(Machine).values(transport="mqtt"))
        user = make_user(s)
        cfg = make_configuration(s)
        for q in (1, 2):
            place_order(s, user.id, [LineRequest(cfg.id, q)], f"k{q}", Actor("c", user.id), "PKR")
    flush_enqueues(ctx)
    sid = request_plan(ctx, "due_dates", 5, 14, Actor("p"))
    with ctx.db.transaction() as s:
        approve(s, sid, Actor("p"))
        schedule = release(s, sid, Actor("p"))
        plates = {a.plate_key for a in schedule.assignments if a.plate_key}
        n = len([a for a in schedule.assignments if not a.plate_key]) + len(plates)
        assert s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "job_order")) is not None
    sub = Subscriber(f"hunar/{ctx.settings.site}/+/jobs")
    transports = transports_for(ctx)
    try:
        first = dispatch_job_orders(ctx, transports)
        again = dispatch_job_orders(ctx, transports)
    finally:
        for t in transports.values():
            t.close()
    assert first["delivered"] == n and again["delivered"] == 0
    deadline = threading.Event()
    for _ in range(50):
        if len(sub.messages) >= n:
            break
        deadline.wait(0.1)
    sub.close()
    ids = [m[1]["job"]["job_order_id"] for m in sub.messages]
    assert len(ids) == n and len(set(ids)) == n, ids
    with ctx.db.sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "job_order")).all()
        assert {r.status for r in rows} == {OutboxStatus.DELIVERED}
        version = s.get_one(Schedule, sid).version
    assert all(i.endswith(f"-v{version}") for i in ids)
    if SHARED.is_dir():
        from mes_bridge.packets import validate_b2mml

        assert validate_b2mml(sub.messages[0][1]["b2mml"].encode(), SHARED) == []


def _one_order_planned_for_mqtt(ctx: AppContext) -> int:
    """Every machine on MQTT, one order built and a plan proposed: the proposal's id."""
    with ctx.db.transaction() as s:
        make_shop(s)
        s.execute(update(Machine).values(transport="mqtt"))
        user = make_user(s)
        place_order(
            s, user.id, [LineRequest(make_configuration(s).id, 1)], "k", Actor("c", user.id), "PKR"
        )
    flush_enqueues(ctx)
    return request_plan(ctx, "due_dates", 5, 14, Actor("p"))


def test_a_long_broker_outage_delays_job_orders_by_at_most_the_floor_backoff_cap(
    mqtt_ctx: AppContext, tmp_path: Path
) -> None:
    """Found by the platform outage drill: with the 300 s cap, a machine waited up to five
    minutes for its job orders after its broker came back."""
    from datetime import UTC, datetime, timedelta

    from orders.adapters.floor_dispatch import FLOOR_BACKOFF

    ctx = mqtt_ctx
    sid = _one_order_planned_for_mqtt(ctx)
    with ctx.db.transaction() as s:
        approve(s, sid, Actor("p"))
        release(s, sid, Actor("p"))
        s.execute(update(OutboxMessage).values(attempts=12))  # a long outage so far
    dead = AppContext.from_settings(ctx.settings.model_copy(update={"mqtt_port": 1}))
    transports = transports_for(dead)
    try:
        report = dispatch_job_orders(dead, transports)
    finally:
        for t in transports.values():
            t.close()
        dead.close()
    assert report["delivered"] == 0 and report["retry_later"] >= 1
    latest = datetime.now(UTC) + timedelta(seconds=FLOOR_BACKOFF.max_s + 1)
    with ctx.db.sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "job_order")).all()
    assert {r.status for r in rows} == {OutboxStatus.PENDING}
    assert all(r.next_attempt_at <= latest for r in rows), [r.next_attempt_at for r in rows]


def test_the_station_start_button_starts_the_printer_once(mqtt_ctx: AppContext) -> None:
    """Found by the platform outage drill: nothing ever asked a printer to start. Now the
    operator's start (after the bed-clear check) sends one start command through the outbox."""
    from mes_bridge.job_order_ids import job_order_id
    from orders.commands.station import press
    from orders.models import Operation, Role
    from orders.queries.station import StationUser

    ctx = mqtt_ctx
    sid = _one_order_planned_for_mqtt(ctx)
    with ctx.db.transaction() as s:
        approve(s, sid, Actor("p"))
        plan = release(s, sid, Actor("p"))
        first = min(
            (a for a in plan.assignments if s.get_one(Operation, a.operation_id).process == "fdm"),
            key=lambda a: a.start,
        )
        job, machine = job_order_id(first.operation_id, plan.version), first.machine_id
    sub = Subscriber(f"hunar/{ctx.settings.site}/{machine}/commands/#")
    transports = transports_for(ctx)
    try:
        dispatch_job_orders(ctx, transports)
        with ctx.db.transaction() as s:
            who = StationUser.load(s, make_user(s, Role.ADMIN).id)
            assert press(s, job, "start", "e1", who).ok
            assert not press(s, job, "start", "e2", who).ok, "started once"
        started = dispatch_job_orders(ctx, transports)
        again = dispatch_job_orders(ctx, transports)
    finally:
        for t in transports.values():
            t.close()
    assert started["delivered"] == 1 and again["delivered"] == 0
    for _ in range(50):
        if sub.messages:
            break
        threading.Event().wait(0.1)
    sub.close()
    assert [m[1]["command"] for m in sub.messages] == ["start"]
    assert sub.messages[0][1]["job_order_id"] == job
