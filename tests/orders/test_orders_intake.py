"""Status intake over REST (signed webhooks) and OPC UA (a real asyncua server and client) moves
the plan exactly like a button: started jobs run; bad signatures, replays and stale timestamps
are refused with a reason and change nothing."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asyncua.sync import Client
from factories import make_settings, released_plan
from sqlalchemy import select

from mes_bridge.job_order_ids import job_order_id
from mes_bridge.packets import from_json
from mes_bridge.transports.base import Packet
from mes_bridge.transports.opcua import OpcUaTransport
from mes_bridge.transports.opcua_receiver import NAMESPACE, JobControlReceiver
from mes_bridge.transports.webhook import signed_headers
from orders.context import AppContext
from orders.floor_intake import IntakeStats, opcua_state_listener
from orders.models import Operation, OperationStatus, OutboxMessage
from web import create_app

SECRET = "floor-secret-for-tests"


def _first_op(ctx: AppContext) -> Operation:
    with ctx.db.sessions() as s:
        op = s.scalars(select(Operation).order_by(Operation.seq)).first()
        assert op is not None
        return op


def test_signed_rest_events(backend: str, db_factory, tmp_path: Path, artifact_cache: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path, db_factory.url(backend), artifact_dir=artifact_cache, floor_webhook_secret=SECRET
    )
    app = create_app(settings)
    ctx: AppContext = app.extensions["hunar"]
    _, version = released_plan(ctx)
    op = _first_op(ctx)
    client = app.test_client()
    body = json.dumps(
        {
            "job_order_id": job_order_id(op.id, version),
            "kind": "started",
            "at": datetime.now(UTC).isoformat(),
            "event_id": "rest-1",
        }
    ).encode()

    def post(data: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        return client.post(
            "/api/floor/events", data=data, headers={**headers, "Content-Type": "application/json"}
        )

    forged = post(body, signed_headers(b"wrong-secret", body, datetime.now(UTC)))
    assert forged.status_code == 401 and forged.json["error"]["code"] == "bad_signature"
    stale = post(
        body, signed_headers(SECRET.encode(), body, datetime.now(UTC) - timedelta(hours=1))
    )
    assert stale.status_code == 401 and "too old" in stale.json["error"]["message"]
    assert _first_op(ctx).status == OperationStatus.RELEASED, "refusals change nothing"
    ok = post(body, signed_headers(SECRET.encode(), body, datetime.now(UTC)))
    assert ok.status_code == 200, ok.json
    assert _first_op(ctx).status == OperationStatus.RUNNING
    replay = post(body, signed_headers(SECRET.encode(), body, datetime.now(UTC)))
    assert replay.status_code == 409 and replay.json["error"]["code"] == "duplicate"
    ctx.close()


@pytest.mark.slow  # a real OPC UA server and client
def test_opcua_state_changes_move_the_plan(ctx: AppContext) -> None:
    _, version = released_plan(ctx)
    op = _first_op(ctx)
    jo = job_order_id(op.id, version)
    with ctx.db.sessions() as s:
        row = s.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(f"jo:{jo}:"))
        ).one()
        job = from_json(row.payload["job"])
    stats = IntakeStats()
    receiver = JobControlReceiver(on_state=opcua_state_listener(ctx, "fdm-xl-01", stats))
    receiver.start()
    client = OpcUaTransport(receiver.endpoint)
    floor = Client(receiver.endpoint, timeout=5)  # the machine side, a plain asyncua client
    try:
        client.deliver(Packet.from_job(job), f"key-{uuid.uuid4().hex[:6]}")
        assert client.start(jo).sent
        floor.connect()
        idx = floor.get_namespace_index(NAMESPACE)
        control = floor.nodes.objects.get_child([f"{idx}:JobControl"])
        for state in ("Running", "Ended"):
            assert control.call_method(f"{idx}:ReportState", jo, state) == 0
        deadline = time.monotonic() + 15
        while stats.counts.get("applied", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        floor.disconnect()
        client.close()
        receiver.stop()
    assert stats.counts["applied"] == 2, stats.counts
    assert _first_op(ctx).status == OperationStatus.DONE
