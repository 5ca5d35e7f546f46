"""Load-shedding desk for planners: the outages ahead per feeder, what carries each machine
through them, and the forms to import the utility's ICS file, type in an outage from its SMS
or WhatsApp notice, remove one, or report power lost / back.

Views only translate: the rules live in `orders/commands/outages.py`. "Power lost" and "power
back" go through `apply_event` (the floor's own path, with a client-made event id, so a double
submit applies once) and ask for a proposal; nothing moves on its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from orders.adapters.outbox import flush_enqueues
from orders.commands import outages as cmd
from orders.commands.floor_events import apply_event, power_event
from orders.errors import DomainError, FloorMessageRejected
from orders.formats import when, zone_label
from orders.models import Machine, Role
from orders.power import power_rules
from orders.queries.power import outages_between, supplies
from web import last_value
from web.auth import hunar
from web.errors import domain_status
from web.planner import _refused, _when, bp
from web.planner.access import actor, staff_page

AHEAD = timedelta(days=14)


def _field(name: str) -> str:
    return (last_value(request.form, name, "") or "").strip()


@bp.get("/power")
@staff_page(Role.PLANNER)
def power() -> str:
    now = datetime.now(UTC)
    with hunar().db.sessions() as s:
        machines = list(s.scalars(select(Machine).order_by(Machine.id)))
        return render_template(
            "planner/power.html",
            outages=outages_between(s, now, now + AHEAD),
            supplies=supplies(machines),
            feeders=power_rules().feeders,
            backups=power_rules().backups.values(),
            event_id=uuid.uuid4().hex,
        )


@bp.post("/power/outages")
@staff_page(Role.PLANNER)
def add_outage() -> Response | tuple[str, int]:
    try:
        start, end = _when(_field("start")), _when(_field("end"))
        if start is None or end is None:
            raise DomainError(
                "start and end are required", fields={"start": "required", "end": "required"}
            )
        with hunar().db.transaction() as s:
            cmd.add_outage(s, _field("feeder")[:64], start, end, actor(), _field("note"))
    except DomainError as exc:
        return _refused(domain_status(exc), exc)
    flash(f"Outage on {_field('feeder')} from {when(start)} to {when(end)} {zone_label()} added.")
    return redirect(url_for("planner.power"), 303)


@bp.post("/power/import")
@staff_page(Role.PLANNER)
def import_outages() -> Response | tuple[str, int]:
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise DomainError("choose the utility's .ics file", fields={"file": "required"})
        data = upload.read(cmd.MAX_ICS_BYTES + 1)
        with hunar().db.transaction() as s:
            report = cmd.import_ics(s, _field("feeder")[:64], data, actor(), datetime.now(UTC))
    except DomainError as exc:
        return _refused(domain_status(exc), exc)
    skipped = f"; skipped: {'; '.join(report.skipped)}" if report.skipped else ""
    flash(f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged{skipped}.")
    return redirect(url_for("planner.power"), 303)


@bp.post("/power/outages/<int:outage_id>/remove")
@staff_page(Role.PLANNER)
def remove_outage(outage_id: int) -> Response | tuple[str, int]:
    try:
        with hunar().db.transaction() as s:
            cmd.remove_outage(s, outage_id, actor())
    except DomainError as exc:
        return _refused(domain_status(exc), exc)
    flash(f"Outage #{outage_id} removed.")
    return redirect(url_for("planner.power"), 303)


@bp.post("/power/<feeder>/<any(lost, back):state>")
@staff_page(Role.PLANNER)
def power_state(feeder: str, state: str) -> Response | tuple[str, int]:
    ctx = hunar()
    try:
        ev = power_event(feeder[:64], state, (_field("event_id") or uuid.uuid4().hex)[:64])
    except FloorMessageRejected as exc:
        return _refused(422, exc)
    with ctx.db.transaction() as s:
        result = apply_event(s, ev, actor())
    if not result.ok and result.code != "duplicate":
        return _refused(404, DomainError(result.message, fields={"feeder": "a listed feeder"}))
    flush_enqueues(ctx)
    asked = "; a rescheduling proposal was requested" if result.proposal_requested else ""
    flash(f"Power {state} on {feeder}{asked}." if result.ok else "Already done.")
    return redirect(url_for("planner.power"), 303)
