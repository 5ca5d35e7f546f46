"""Fleet board: every printer's live state, job, progress, temperatures, ETA, loaded spool and
last error, refreshed every second without reloading (`web/static/planner/fleet.js` polls
`/planner/fleet.json`), with the operator's actions beside each printer.

Planners see the whole fleet; operators see it too (what the printer next to theirs is doing is
their business), and get their own stations' actions: the station page and "confirm plate
clear", which posts to the station's existing route (`operator.bed_clear` →
`commands/station.confirm_bed_clear`). A running print can be cancelled from here
(`POST /planner/fleet/<machine>/cancel` → `commands/fleet_cancel.cancel_print`) by planners and
admins on any printer; the board then shows what the printer answered (or "stop it by hand").
The JSON carries a weak ETag of its content, so an unchanged fleet costs a poller a 304.
"""

from __future__ import annotations

import hashlib
import json

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from orders.commands.fleet_cancel import cancel_print
from orders.errors import DomainError, NotFound
from orders.models import Role
from orders.queries import fleet as q
from orders.queries.fleet_cancels import cancel_notes
from orders.queries.station import NotYourStation, StationUser
from web import last_value
from web.auth import hunar
from web.errors import wants_json
from web.planner import _refused, bp
from web.planner.access import not_modified, staff_page, with_etag


def _acts_on(me: StationUser, machine_ids: list[str]) -> set[str]:
    """The printers whose station actions this viewer may use (none for a planner)."""
    if me.role not in (Role.OPERATOR, Role.ADMIN):
        return set()
    return {m for m in machine_ids if me.may_act_on(m)}


def _cancellers(me: StationUser, rows: list[q.FleetRow]) -> set[str]:
    """The printers whose running print this viewer may cancel: every one for a planner or an
    admin, none for an operator (planner routes are shop-wide; see `fleet_cancel`)."""
    if me.role in (Role.PLANNER, Role.ADMIN):
        return {r.machine_id for r in rows}
    return set()


def _running(row: q.FleetRow) -> bool:
    return row.planned is not None and row.planned.status in q.ACTIVE


@bp.get("/fleet")
@staff_page(Role.PLANNER, Role.OPERATOR)
def fleet() -> str:
    with hunar().db.sessions() as s:
        rows = q.fleet(s)
        me = StationUser.load(s, current_user.id)
        acts = _acts_on(me, [r.machine_id for r in rows])
        return render_template(
            "planner/fleet.html",
            rows=rows,
            acts=acts,
            cancellers=_cancellers(me, rows),
            notes=cancel_notes(s),
            stale_after_s=int(q.STALE_AFTER.total_seconds()),
        )


@bp.get("/fleet.json")
@staff_page(Role.PLANNER, Role.OPERATOR)
def fleet_json() -> Response:
    """The board's rows for the refresh script and for dashboards."""
    with hunar().db.sessions() as s:
        rows = q.fleet(s)
        me = StationUser.load(s, current_user.id)
        acts = _acts_on(me, [r.machine_id for r in rows])
        cancels, notes = _cancellers(me, rows), cancel_notes(s)
    body = {
        "printers": [
            q.as_json(r)
            | {
                "may_act": r.machine_id in acts,
                "may_cancel": r.machine_id in cancels and _running(r),
                "cancel_note": notes.get(r.machine_id, ""),
            }
            for r in rows
        ]
    }
    stamp = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
    if (nm := not_modified(stamp)) is not None:
        return nm
    return with_etag(jsonify(body), stamp)


@bp.post("/fleet/<machine_id>/cancel")
@staff_page(Role.PLANNER)
def fleet_cancel(machine_id: str) -> Response | tuple[str, int]:
    """Cancel the running print shown on the board (its job order id is in the form, so a job
    that started since is never the one cancelled). Planners and admins: like every planner
    route naming a machine it is shop-wide, so operators get 403 (their station has its own)."""
    form = request.form
    job = (last_value(form, "job_order_id", "") or "").strip()[:64]
    if not job:
        why = "job_order_id: the running job to cancel (reload the board)"
        return _refused(422, DomainError(why, fields={"job_order_id": "required"}))
    try:
        with hunar().db.transaction() as s:
            me = StationUser.load(s, current_user.id)
            result = cancel_print(
                s,
                machine_id[:64],
                job,
                last_value(form, "reason", "") or "",
                last_value(form, "form_key", "") or "",
                me,
            )
    except (NotYourStation, NotFound):
        abort(404)
    except DomainError as exc:
        return _refused(422, exc)
    if not result.ok:
        return _refused(409, DomainError(result.message))
    done = "Already cancelled." if result.code == "duplicate" else f"{result.message}."
    if wants_json():
        return jsonify({"code": result.code, "message": done, "remake_lines": result.remakes})
    flash(done)
    return redirect(url_for("planner.fleet"), 303)
