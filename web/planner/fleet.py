"""Fleet board: every printer's live state, job, progress, temperatures, ETA, loaded spool and
last error, refreshed every second without reloading (`web/static/planner/fleet.js` polls
`/planner/fleet.json`), with the operator's actions beside each printer.

Planners see the whole fleet; operators see it too (what the printer next to theirs is doing is
their business), and get their own stations' actions: the station page and "confirm plate
clear", which posts to the station's existing route (`operator.bed_clear` →
`commands/station.confirm_bed_clear`), so the board adds no way of changing state of its own.
Cancelling a print through the transport is not offered here: it needs a POST route of its own.
The JSON carries a weak ETag of its content, so an unchanged fleet costs a poller a 304.
"""

from __future__ import annotations

import hashlib
import json

from flask import jsonify, render_template
from flask_login import current_user
from werkzeug.wrappers import Response

from orders.models import Role
from orders.queries import fleet as q
from orders.queries.station import StationUser
from web.auth import hunar
from web.planner import bp
from web.planner.access import not_modified, staff_page, with_etag


def _acts_on(me: StationUser, machine_ids: list[str]) -> set[str]:
    """The printers whose station actions this viewer may use (none for a planner)."""
    if me.role not in (Role.OPERATOR, Role.ADMIN):
        return set()
    return {m for m in machine_ids if me.may_act_on(m)}


@bp.get("/fleet")
@staff_page(Role.PLANNER, Role.OPERATOR)
def fleet() -> str:
    with hunar().db.sessions() as s:
        rows = q.fleet(s)
        me = StationUser.load(s, current_user.id)
        return render_template(
            "planner/fleet.html",
            rows=rows,
            acts=_acts_on(me, [r.machine_id for r in rows]),
            stale_after_s=int(q.STALE_AFTER.total_seconds()),
        )


@bp.get("/fleet.json")
@staff_page(Role.PLANNER, Role.OPERATOR)
def fleet_json() -> Response:
    """The board's rows for the refresh script and for dashboards."""
    with hunar().db.sessions() as s:
        rows = q.fleet(s)
        acts = _acts_on(StationUser.load(s, current_user.id), [r.machine_id for r in rows])
    body = {"printers": [q.as_json(r) | {"may_act": r.machine_id in acts} for r in rows]}
    stamp = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
    if (nm := not_modified(stamp)) is not None:
        return nm
    return with_etag(jsonify(body), stamp)
