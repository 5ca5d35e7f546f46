"""Planner console: orders board, propose / compare / approve / release plans, machine calendars.

Views are thin: they parse the form, call `orders` commands and queries and render. Live parts of a page
are HTML fragments polled with ETags (`web/static/planner/live.js`).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from orders.commands import planner_ops
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.errors import DomainError, NotFound, StaleVersion
from orders.formats import from_shop_time
from orders.models import Role
from orders.queries import planner_board as pv
from orders.queries.plans import OBJECTIVES
from web import MAX_ID, decimal_number, last_value, public_base_url, whole_number
from web.auth import hunar
from web.errors import error_response, wants_json
from web.planner.access import actor, not_modified, staff_page, with_etag

bp = Blueprint("planner", __name__, url_prefix="/planner")
PLANNER = Role.PLANNER


@bp.get("/")
@staff_page(PLANNER)
def home() -> str:
    state, q = request.args.get("state") or None, request.args.get("q", "")[:100]
    with hunar().db.sessions() as s:
        columns = pv.board(s, state, q)
        recent = pv.schedules(s, 8)
        return render_template(
            "planner/board.html",
            columns=columns,
            state=state,
            q=q,
            recent=recent,
            objectives=OBJECTIVES,
        )


@bp.get("/board")
@staff_page(PLANNER)
def board_fragment() -> Response:
    state, q = request.args.get("state") or None, request.args.get("q", "")[:100]
    with hunar().db.sessions() as s:
        stamp = pv.change_stamp(s)
        if (nm := not_modified(stamp)) is not None:
            return nm
        html = render_template("planner/_board.html", columns=pv.board(s, state, q))
    return with_etag(make_response(html), stamp)


@bp.get("/board.json")
@staff_page(PLANNER)
def board_json() -> Response:
    """The board for scripts and dashboards, with the same ETag as the live fragment."""
    state, q = request.args.get("state") or None, request.args.get("q", "")[:100]
    with hunar().db.sessions() as s:
        stamp = pv.change_stamp(s)
        if (nm := not_modified(stamp)) is not None:
            return nm
        columns = pv.board(s, state, q)
    body = {k: [asdict(c) for c in cards] for k, cards in columns.items()}
    return with_etag(jsonify({"columns": body}), stamp)


@bp.post("/propose")
@staff_page(PLANNER)
def propose() -> Response | tuple[str, int]:
    form = request.form
    limit = decimal_number(last_value(form, "time_limit_s", "10"))
    horizon = whole_number(last_value(form, "horizon_days", "14"), max_digits=4)
    if limit is None or horizon is None:
        return _refused(
            422,
            DomainError(
                "time limit and horizon must be plain numbers (like 10 or 2.5)",
                fields={"time_limit_s": "number", "horizon_days": "whole number"},
            ),
        )
    try:
        key = last_value(form, "request_key", "")  # the same form twice: one proposal
        sid = request_plan(hunar(), form.get("objective", ""), limit, horizon, actor(), key)
    except DomainError as exc:
        return _refused(422, exc)
    return redirect(url_for("planner.schedule", schedule_id=sid))


@bp.get("/schedules")
@staff_page(PLANNER)
def schedule_list() -> str:
    with hunar().db.sessions() as s:
        return render_template(
            "planner/schedules.html", rows=pv.schedules(s, 50), objectives=OBJECTIVES
        )


@bp.get("/schedules/<id:schedule_id>")
@staff_page(PLANNER)
def schedule(schedule_id: int) -> str:
    """The page carries its Gantt data (one round trip less before the first paint)."""
    with hunar().db.sessions() as s:
        stamp = pv.change_stamp(s)
        return render_template(
            "planner/schedule.html",
            **_schedule_context(s, schedule_id),
            gantt=pv.schedule_gantt(s, schedule_id),
            stamp=stamp,
        )


@bp.get("/schedules/<id:schedule_id>/panel")
@staff_page(PLANNER)
def schedule_panel(schedule_id: int) -> Response:
    with hunar().db.sessions() as s:
        stamp = pv.change_stamp(s)
        if (nm := not_modified(stamp)) is not None:
            return nm
        html = render_template("planner/_schedule_panel.html", **_schedule_context(s, schedule_id))
    return with_etag(make_response(html), stamp)


@bp.get("/schedules/<id:schedule_id>/gantt.json")
@staff_page(PLANNER)
def gantt_json(schedule_id: int) -> Response:
    with hunar().db.sessions() as s:
        stamp = pv.change_stamp(s)
        if (nm := not_modified(stamp)) is not None:
            return nm
        return with_etag(jsonify(pv.schedule_gantt(s, schedule_id)), stamp)


PLANNED = ("OPTIMAL", "FEASIBLE")  # solver statuses that come with a plan


def _schedule_context(s: Session, schedule_id: int) -> dict[str, Any]:
    row = pv.get_schedule(s, schedule_id)
    solved = row.solver_status != "PENDING"
    # a failed solve stores empty KPIs (on time 100 %): only a found plan has figures to show
    planned = row.solver_status in PLANNED
    return {
        "row": row,
        "solved": solved,
        "planned": planned,
        "kpis": pv.kpi_table(row) if planned else [],
        "moves": pv.moves_detail(s, row.id) if planned else [],
        "plates": pv.plates(row),
        "diagnostics": (row.kpis or {}).get("diagnostics", []),
        "machines": [m.id for m in pv.machines_with_windows(s)],
    }


@bp.post("/schedules/<id:schedule_id>/approve")
@staff_page(PLANNER)
def approve_schedule(schedule_id: int) -> Response | tuple[str, int]:
    try:
        with hunar().db.transaction() as s:
            version = approve(s, schedule_id, actor()).version
    except StaleVersion as exc:
        return _refused(409, exc, schedule_id)
    except DomainError as exc:
        return _refused(422 if not isinstance(exc, NotFound) else 404, exc, schedule_id)
    if wants_json():
        return jsonify({"schedule_id": schedule_id, "state": "approved", "version": version})
    flash(f"Plan v{version} approved. Release it to send job orders to the floor.")
    return redirect(url_for("planner.schedule", schedule_id=schedule_id))


@bp.post("/schedules/<id:schedule_id>/release")
@staff_page(PLANNER)
def release_schedule(schedule_id: int) -> Response | tuple[str, int]:
    ctx = hunar()
    try:
        with ctx.db.transaction() as s:
            version = release(s, schedule_id, actor(), public_base_url()).version
    except DomainError as exc:
        return _refused(409 if isinstance(exc, StaleVersion) else 422, exc, schedule_id)
    if wants_json():
        return jsonify({"schedule_id": schedule_id, "state": "released", "version": version})
    flash(f"Plan v{version} released; job orders are on their way to the machines.")
    return redirect(url_for("planner.schedule", schedule_id=schedule_id))


def _refused(
    status: int, exc: DomainError, schedule_id: int | None = None
) -> Response | tuple[str, int]:
    """The one refusal: JSON error shape for scripts, the page with the reason for people."""
    if wants_json():
        return error_response(status, exc.code, exc.message, exc.fields)
    html = render_template(
        "planner/refused.html",
        status=status,
        message=exc.message,
        fields=exc.fields,
        schedule_id=schedule_id,
    )
    return html, status


@bp.post("/pin")
@staff_page(PLANNER)
def pin() -> Response | tuple[str, int]:
    """Pin (machine + start) or unpin (no machine) an operation; optionally propose again."""
    operation_id = whole_number(request.form.get("operation_id", ""))
    if operation_id is None or operation_id > MAX_ID:
        return _refused(
            422,
            DomainError(
                "operation id must be a whole number", fields={"operation_id": "whole number"}
            ),
        )
    try:
        start = _when(request.form.get("start", ""))
        with hunar().db.transaction() as s:
            planner_ops.pin_operation(
                s, operation_id, request.form.get("machine_id") or None, start, actor()
            )
    except DomainError as exc:
        return _refused(404 if isinstance(exc, NotFound) else 422, exc)
    if request.form.get("resolve"):
        return propose()
    flash(f"Operation {operation_id} pinned; propose again to plan around it.")
    return redirect(request.referrer or url_for("planner.home"))


def _when(text: str) -> datetime | None:
    """A datetime-local field (shop time, as every time on the page) or an ISO time with an
    offset, as UTC; empty → None."""
    if not text.strip():
        return None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise DomainError(
            f"'{text[:40]}' is not a date and time", fields={"start": "YYYY-MM-DDTHH:MM"}
        ) from exc
    return from_shop_time(at)


from web.planner import fleet, machines, mail, payments, power, reports, shipping, stock  # noqa: E402,F401  (routes on this blueprint)
