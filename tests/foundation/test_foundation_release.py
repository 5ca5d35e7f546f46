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

from orders.context import AppContext
from orders.models import Machine, OutboxMessage, OutboxStatus, Schedule
from orders.outbox import flush_enqueues
from orders.services.audit import Actor
from orders.services.ordering import LineRequest, place_order
from orders.services.planning import approve, release, request_plan
from orders.services.shopfloor import dispatch_job_orders, transports_for
from services import MQTT_HOST, MQTT_PORT

SHARED = Path(__file__).resolve().parents[3] / "shared" / "standards" / "b2mml"


class Subscriber:
    def __init__(self, topic: str) -> None:
        self.messages: list[tuple[str, dict]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.loop_start()
        assert self.ready.wait(10), "could not subscribe on Mosquitto"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def mqtt_ctx(backend: str, db_factory, tmp_path: Path, artifact_cache: Path):  # type: ignore[no-untyped-def]
    site = f"test-{uuid.uuid4().hex[:8]}"
    ctx = AppContext.from_settings(make_settings(tmp_path, db_factory.url(backend), site=site,
                                                 artifact_dir=artifact_cache))  # fmt: skip
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
