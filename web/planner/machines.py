"""Machine calendars for planners: maintenance windows, marking a machine down or up.

Down and up go through `floor.apply_event` (the same path as an MQTT or OPC UA report), so
marking a machine down also creates the rescheduling proposal.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from orders.adapters.outbox import flush_enqueues
from orders.commands import planner_ops
from orders.commands.floor_events import apply_event, machine_state_event
from orders.errors import DomainError, FloorMessageRejected, NotFound
from orders.formats import when, zone_label
from orders.models import Role, Schedule
from orders.queries import planner_board as pv
from web.auth import hunar
from web.planner import _refused, _when, bp
from web.planner.access import actor, staff_page


@bp.get("/machines")
@staff_page(Role.PLANNER)
def machines() -> str:
    with hunar().db.sessions() as s:
        rows = pv.machines_with_windows(s)
        return render_template(
            "planner/machines.html", machines=rows, now=datetime.now(UTC), event_id=uuid.uuid4().hex
        )


@bp.post("/machines/<machine_id>/maintenance")
@staff_page(Role.PLANNER)
def add_maintenance(machine_id: str) -> Response | tuple[str, int]:
    try:
        start, end = _when(request.form.get("start", "")), _when(request.form.get("end", ""))
        if start is None or end is None:
            raise DomainError(
                "start and end are required", fields={"start": "required", "end": "required"}
            )
        with hunar().db.transaction() as s:
            planner_ops.add_maintenance(
                s, machine_id[:64], start, end, request.form.get("note", ""), actor()
            )
    except DomainError as exc:
        return _refused(404 if isinstance(exc, NotFound) else 422, exc)
    flash(f"Maintenance on {machine_id} from {when(start)} to {when(end)} {zone_label()} added.")
    return redirect(url_for("planner.machines"))


@bp.post("/machines/<machine_id>/<any(down, up):kind>")
@staff_page(Role.PLANNER)
def machine_state(machine_id: str, kind: str) -> Response | tuple[str, int]:
    """Down or up, with a client-generated event id so a double submit is applied once."""
    ctx = hunar()
    try:
        ev = machine_state_event(
            machine_id[:64],
            kind,
            (request.form.get("event_id") or uuid.uuid4().hex)[:64],
            request.form.get("reason", "")[:500],
            datetime.now(UTC),
        )
    except FloorMessageRejected as exc:
        return _refused(422, exc)
    with ctx.db.transaction() as s:
        result = apply_event(s, ev, actor())
    if not result.ok and result.code != "duplicate":
        return _refused(
            404 if result.code == "unknown_machine" else 409, DomainError(result.message)
        )
    flush_enqueues(ctx)
    if result.proposal_requested:
        with ctx.db.sessions() as s:
            newest = s.scalars(select(Schedule).order_by(Schedule.version.desc())).first()
            if newest is not None:
                flash(f"{machine_id} is down; rescheduling proposal v{newest.version} requested.")
                return redirect(url_for("planner.schedule", schedule_id=newest.id))
    flash(f"{machine_id} is {kind}." if result.ok else "Already done.")
    return redirect(url_for("planner.machines"))
