"""Released plans to the shop floor through the outbox, and the DB side of the MES dispatcher.

`release_to_floor` writes one `job_order` outbox row per assignment in the release transaction.
`DbOutbox` implements the MES bridge's `Outbox` protocol over the same table: rows are claimed
with a lease (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL), so two dispatchers never send the
same row at once; a failed delivery stays pending with its error and a backoff.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.dispatch import Action, Backoff, OutboxItem, dispatch_once
from mes_bridge.packets import ArtifactRef, JobOrder, from_json, to_json
from mes_bridge.transports.base import DeliveryReceipt, Packet, Transport
from orders.models import (
    Artifact,
    Machine,
    Operation,
    OrderLine,
    OutboxMessage,
    OutboxStatus,
    ProductConfiguration,
    Schedule,
)
from orders.outbox import add_message, due
from orders.services.floor import job_order_id

if TYPE_CHECKING:
    from orders.context import AppContext

LEASE = timedelta(seconds=60)
# A failed connection marks its transport down for the rest of a pass, so frequent retries cost
# one connection attempt per machine; the short cap bounds how long a machine waits for its job
# orders after its broker or printer comes back (with 300 s it was up to five minutes).
FLOOR_BACKOFF = Backoff(max_s=30.0)
FILE_KINDS = ("gcode", "stl", "3mf", "dxf", "step")


def _artifacts(session: Session, configuration_id: int, base_url: str) -> list[ArtifactRef]:
    rows = session.scalars(
        select(Artifact).where(
            Artifact.configuration_id == configuration_id, Artifact.kind.in_(FILE_KINDS)
        )
    )
    return [
        ArtifactRef(a.kind, f"{base_url}/api/artifacts/{a.id}", a.sha256, a.bytes) for a in rows
    ]


def build_job_order(
    session: Session, schedule: Schedule, assignment: Any, base_url: str
) -> JobOrder:
    op = session.get_one(Operation, assignment.operation_id)
    line = session.get_one(OrderLine, op.order_line_id)
    config = session.get_one(ProductConfiguration, line.configuration_id)
    from orders.services.catalog import load_config

    values = load_config(config).values
    grams = 0.0
    step = session.scalars(
        select(Artifact).where(Artifact.configuration_id == config.id, Artifact.kind == "step")
    ).first()
    primary = op.setup_family is not None  # shaping steps carry a setup family
    if step is not None and primary:
        grams = float((step.meta or {}).get("filament_g") or 0.0) * op.quantity
    return JobOrder(
        job_order_id=job_order_id(op.id, schedule.version),
        family_key=config.family_key,
        family_version=str(config.family_version),
        machine_id=assignment.machine_id,
        material=str(values.get("material", "-")),
        colour=str(values.get("colour", "")),
        grams=round(grams, 2),
        parameters=dict(values),
        scheduled_start=assignment.start,
        scheduled_end=assignment.end,
        priority={"express": 3, "standard": 2}.get(line.tier, 1),
        artifacts=tuple(_artifacts(session, config.id, base_url)) if primary else (),
        order_line_url=f"{base_url}/orders/{line.order_id}#line-{line.id}",
        description=f"{op.step} for order {line.order_id} line {line.id}",
        quantity=op.quantity,
    )


def release_to_floor(session: Session, schedule: Schedule, base_url: str) -> int:
    """One job-order outbox row per assignment (one per plate for batched parts), skipping any
    already sent unchanged; returns the rows added."""
    machines = {m.id: m for m in session.scalars(select(Machine))}
    layouts = (schedule.kpis or {}).get("plates", {}).get("layouts", {})
    added, seen_plates = 0, set()
    for a in schedule.assignments:
        if a.plate_key in seen_plates:
            continue
        job = build_job_order(session, schedule, a, base_url)
        if a.plate_key:
            seen_plates.add(a.plate_key)
            job = _as_plate(session, schedule, a.plate_key, job, layouts.get(a.plate_key, []))
        key = f"jo:{job.job_order_id}:{a.machine_id}:{a.start.isoformat()}"
        exists = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
        )
        if exists is None:
            add_message(
                session,
                kind="job_order",
                destination=a.machine_id,
                transport=machines[a.machine_id].transport,
                key=key,
                payload={"action": "deliver", "job": to_json(job)},
            )
            added += 1
    return added


def _as_plate(
    session: Session,
    schedule: Schedule,
    plate_key: str,
    job: JobOrder,
    layout: list[dict[str, Any]],
) -> JobOrder:
    """The plate's job order: every member's quantity, and the bed map of which part is whose."""
    from dataclasses import replace

    from mes_bridge.packets import PlatePart

    members = [x for x in schedule.assignments if x.plate_key == plate_key]
    qty = sum(session.get_one(Operation, x.operation_id).quantity for x in members)
    parts = tuple(
        PlatePart(
            str(p["order_line_id"]),
            float(p["x_mm"]),
            float(p["y_mm"]),  # type: ignore[arg-type]
            float(p["w_mm"]),
            float(p["h_mm"]),
            str(p["part"]),
        )  # type: ignore[arg-type]
        for p in layout
    )
    return replace(
        job,
        quantity=qty,
        plate=parts,
        description=f"plate {plate_key}: {len(members)} order lines, {qty} parts",
    )


def request_start(session: Session, job: str, machine_id: str, transport: str) -> OutboxMessage:
    """Ask the device to start a delivered job: at most once (one row per job order)."""
    return add_message(
        session,
        kind="job_order",
        destination=machine_id,
        transport=transport,
        key=f"start:{job}",
        payload={"action": "start", "job_order_id": job},
    )


class DbOutbox:
    """The MES bridge's Outbox protocol over the `outbox` table."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def pending(self, limit: int) -> list[OutboxItem]:
        now = datetime.now(UTC)
        items = []
        with self.ctx.db.transaction() as s:
            for row in due(s, "job_order", limit, now):
                row.next_attempt_at = now + LEASE  # claimed: another dispatcher skips it
                items.append(self._item(s, row))
        return items

    def _item(self, s: Session, row: OutboxMessage) -> OutboxItem:
        if row.payload.get("action") == "start":
            job = self._job_for(s, str(row.payload["job_order_id"]))
            return OutboxItem(
                str(row.id),
                row.destination,
                Packet.from_job(job),
                row.idempotency_key,
                Action.START,
                row.attempts,
            )
        job = from_json(row.payload["job"])
        return OutboxItem(
            str(row.id),
            row.destination,
            Packet.from_job(job, self._files(s, job)),
            row.idempotency_key,
            Action.DELIVER,
            row.attempts,
        )

    def _job_for(self, s: Session, job_id: str) -> JobOrder:
        row = s.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(f"jo:{job_id}:"))
        ).first()
        if row is None:
            raise LookupError(f"no delivered job order {job_id}")
        return from_json(row.payload["job"])

    def _files(self, s: Session, job: JobOrder) -> dict[str, bytes]:
        from orders.services.artifacts import store_for

        store = store_for(self.ctx)
        out: dict[str, bytes] = {}
        for ref in job.artifacts:
            art_id = int(ref.url.rsplit("/", 1)[-1])
            art = s.get(Artifact, art_id)
            if art is not None and art.kind == "gcode":
                with store.open(art.path) as fh:
                    out[f"{job.job_order_id}.gcode"] = fh.read()
        return out

    def mark_delivered(self, item_id: str, receipt: DeliveryReceipt) -> None:
        with self.ctx.db.transaction() as s:
            row = s.get_one(OutboxMessage, int(item_id))
            row.status, row.delivered_at = OutboxStatus.DELIVERED, datetime.now(UTC)
            row.receipt = {
                "transport": receipt.transport,
                "at": receipt.delivered_at.isoformat(),
                "detail": receipt.peer_ref,
                "duplicate": receipt.duplicate,
            }
            row.attempts += 1

    def mark_failed(self, item_id: str, error: str, retry_at: datetime | None) -> None:
        with self.ctx.db.transaction() as s:
            row = s.get_one(OutboxMessage, int(item_id))
            row.attempts += 1
            row.last_error = error
            if retry_at is None:
                row.status = OutboxStatus.DEAD
            else:
                row.next_attempt_at = retry_at


def transports_for(ctx: AppContext) -> dict[str, Transport]:
    """One transport per machine, as configured on the machine row (default: MQTT)."""
    from mes_bridge.transports.folder import FolderTransport
    from mes_bridge.transports.mqtt import MqttTransport
    from mes_bridge.transports.octoprint import OctoPrintTransport
    from mes_bridge.transports.opcua import OpcUaTransport
    from mes_bridge.transports.webhook import WebhookTransport

    st = ctx.settings
    out: dict[str, Transport] = {}
    with ctx.db.sessions() as s:
        for m in s.scalars(select(Machine)):
            cfg = m.transport_config or {}
            if m.transport == "octoprint" and cfg.get("url"):
                out[m.id] = OctoPrintTransport(cfg["url"], cfg.get("api_key", ""))
            elif m.transport == "opcua":
                out[m.id] = OpcUaTransport(cfg.get("endpoint", st.opcua_endpoint))
            elif m.transport == "webhook" and cfg.get("url") and cfg.get("secret"):
                out[m.id] = WebhookTransport(cfg["url"], str(cfg["secret"]).encode())
            elif m.transport == "folder":
                root = Path(cfg.get("path") or st.var_dir / "hotfolder" / m.id)
                root.mkdir(parents=True, exist_ok=True)
                out[m.id] = FolderTransport(root)
            else:
                out[m.id] = MqttTransport(st.site, m.id, host=st.mqtt_host, port=st.mqtt_port)
    return out


def dispatch_job_orders(
    ctx: AppContext, transports: dict[str, Transport] | None = None, limit: int = 100
) -> dict[str, int]:
    """One pass of the MES dispatcher over the DB outbox."""
    transports = transports if transports is not None else transports_for(ctx)
    report = dispatch_once(DbOutbox(ctx), transports, limit=limit, backoff=FLOOR_BACKOFF)
    return {
        "delivered": report.delivered,
        "retry_later": report.retry_later,
        "rejected": report.rejected,
    }
