"""Outgoing delivery to the shop floor: the DB side of the MES dispatcher.

`commands/release.py` writes one `job_order` outbox row per assignment in the release
transaction; this module delivers them. `DbOutbox` implements the MES bridge's `Outbox` protocol over the same table: rows are claimed
with a lease (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL), so two dispatchers never send the
same row at once; a failed delivery stays pending with its error and a backoff.

A `start` row meets the plate-clear gate (`orders.plate_gate`) before it goes: while the plate is
not confirmed clear it stays pending, "waiting for plate clear", and a confirmation releases it.
`exclude` rows ask a printer to skip one object of a running plate (`commands/plate_objects.py`);
`cancel` rows ask it to stop a running job (`commands/fleet_cancel.py`). Both go before new work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.dispatch import Action, Backoff, OutboxItem, dispatch_once
from mes_bridge.packets import JobOrder, from_json
from mes_bridge.transports.base import DeliveryReceipt, Packet, Transport
from mes_bridge.transports.registry import SiteConfig, make_transport
from orders.adapters.outbox import add_message, due
from orders.adapters.store import store_for
from orders.models import (
    Artifact,
    Machine,
    OutboxMessage,
    OutboxStatus,
)
from orders.plate_gate import WAITING, plate_refusal

if TYPE_CHECKING:
    from orders.context import AppContext

LEASE = timedelta(seconds=60)
# A failed connection marks its transport down for the rest of a pass, so frequent retries cost
# one connection attempt per machine; the short cap bounds how long a machine waits for its job
# orders after its broker or printer comes back (with 300 s it was up to five minutes).
FLOOR_BACKOFF = Backoff(max_s=30.0)
# A start held for a plate clear is looked at again this often (a confirmation, or an auto-eject
# printer's own finish, releases it sooner or on the next look); holding costs no attempt.
PLATE_HOLD = timedelta(seconds=15)
EXCLUDE = "exclude"  # the outbox kind of "skip one object of a running plate"
CANCEL = "cancel"  # the outbox kind of "stop this printer's running job"
# Payload actions that act on an already delivered job, and what the transport is asked to do.
ACTIONS = {"start": Action.START, "exclude": Action.EXCLUDE, "cancel": Action.CANCEL}


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


def request_exclude(
    session: Session, job: str, machine_id: str, transport: str, object_name: str, line_id: int
) -> OutboxMessage:
    """Ask the printer to skip one object of its running plate: once per plate and line."""
    return add_message(
        session,
        kind=EXCLUDE,
        destination=machine_id,
        transport=transport,
        key=f"exclude:{job}:{line_id}",
        payload={"action": "exclude", "job_order_id": job, "object_name": object_name},
    )


def request_cancel(session: Session, job: str, machine_id: str, transport: str) -> OutboxMessage:
    """Ask the printer to stop its running job: once per job order."""
    return add_message(
        session,
        kind=CANCEL,
        destination=machine_id,
        transport=transport,
        key=f"cancel:{job}",
        payload={"action": "cancel", "job_order_id": job},
    )


def withdraw_start(session: Session, job: str, reason: str) -> bool:
    """A start not sent yet never will be (the job was cancelled); True when one was withdrawn."""
    row = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == f"start:{job}",
            OutboxMessage.status == OutboxStatus.PENDING,
        )
    )
    if row is None:
        return False
    row.status, row.last_error = OutboxStatus.DEAD, f"withdrawn: {reason}"
    return True


def release_held_starts(session: Session, machine_id: str) -> int:
    """The plate was confirmed clear: starts held for it go on the dispatcher's next pass."""
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "job_order",
            OutboxMessage.destination == machine_id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.last_error.startswith(WAITING),
        )
    ).all()
    for row in rows:
        row.next_attempt_at, row.last_error = datetime.now(UTC), None
    return len(rows)


class DbOutbox:
    """The MES bridge's Outbox protocol over the `outbox` table."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def pending(self, limit: int) -> list[OutboxItem]:
        now = datetime.now(UTC)
        items = []
        with self.ctx.db.transaction() as s:
            rows = due(s, CANCEL, limit, now)  # stopping a print first, then skips, then work
            for kind in (EXCLUDE, "job_order"):
                rows += due(s, kind, limit - len(rows), now) if len(rows) < limit else []
            for row in rows:
                if row.payload.get("action") == "start" and (
                    why := plate_refusal(s, str(row.payload["job_order_id"]))
                ):  # held, not failed: no attempt counted, no backoff
                    row.next_attempt_at, row.last_error = now + PLATE_HOLD, f"{WAITING}: {why}"
                    continue
                row.next_attempt_at = now + LEASE  # claimed: another dispatcher skips it
                items.append(self._item(s, row))
        return items

    def _item(self, s: Session, row: OutboxMessage) -> OutboxItem:
        action = ACTIONS.get(str(row.payload.get("action")))
        if action is not None:  # a command on a delivered job: it names the job, not a file
            job = self._job_for(s, str(row.payload["job_order_id"]))
            skip = str(row.payload["object_name"]) if action is Action.EXCLUDE else ""
            return OutboxItem(
                str(row.id),
                row.destination,
                Packet.from_job(job),
                row.idempotency_key,
                action,
                row.attempts,
                object_name=skip,
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
    """One transport per machine, from the registry by the name on the machine row."""
    st = ctx.settings
    site = SiteConfig(
        site=st.site,
        mqtt_host=st.mqtt_host,
        mqtt_port=st.mqtt_port,
        opcua_endpoint=st.opcua_endpoint,
        hotfolder_root=Path(st.var_dir) / "hotfolder",
    )
    with ctx.db.sessions() as s:
        return {
            m.id: make_transport(m.transport, m.id, m.transport_config, site)
            for m in s.scalars(select(Machine))
        }


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
