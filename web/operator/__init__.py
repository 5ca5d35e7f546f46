"""Operator station: one page per machine (tablet width) with the current and next jobs, the job
packet (traveler with QR, parameters, files, bed layout) and one-tap status buttons.

Buttons go through `orders.commands.station.press`, i.e. the MES intake and `floor.apply_event`,
so a tap and an MQTT or OPC UA event have the same effect. Each form carries a client-generated
event id, so a double click is applied once and answered "already done".
"""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from orders.commands import plate_objects
from orders.commands import station as station_commands
from orders.errors import DomainError, NotFound
from orders.lookup import found
from orders.models import Machine, Role
from orders.queries import station as st
from orders.queries.planner_board import change_stamp
from web import public_base_url, whole_number
from web.auth import hunar
from web.errors import error_response, wants_json
from web.planner.access import not_modified, staff_page, with_etag

bp = Blueprint("operator", __name__, url_prefix="/operator")
OPERATOR = Role.OPERATOR
STATUS_BY_CODE = {
    "applied": 200,
    "duplicate": 200,
    "bed_not_clear": 409,
    "out_of_order": 409,
    "invalid": 422,
    "unknown_job": 404,
}


def _job_id(raw: str) -> str:
    """A job order id as the floor writes it, ids in range; anything else is a 404 here."""
    if not st.is_job_order_id(raw):
        abort(404)
    return raw


def _me(session: Session) -> st.StationUser:
    return st.StationUser.load(session, current_user.id)


def _base_url() -> str:
    return public_base_url()


@bp.get("/")
@staff_page(OPERATOR)
def home() -> Response | str:
    with hunar().db.sessions() as s:
        me = _me(s)
        if me.role != Role.ADMIN and len(me.stations) == 1:
            return redirect(url_for("operator.station", machine_id=me.stations[0]))
        machines = st.stations(s, None if me.role == Role.ADMIN else me.stations)
        return render_template("operator/home.html", machines=machines)


def _own_station(s: Session, machine_id: str) -> st.StationUser:
    me = _me(s)
    if not me.may_act_on(machine_id):
        abort(404)
    return me


def _own_job(job_order_id: str) -> str:
    """The job's machine when it is one of this operator's stations, else 404: decided before
    any input is judged, so another station's job answers exactly like a missing one."""
    with hunar().db.sessions() as s:
        try:
            machine_id = st.machine_of_job(s, _job_id(job_order_id))[1]
        except NotFound:
            abort(404)
        _own_station(s, machine_id)
        return machine_id


@bp.get("/station/<machine_id>")
@staff_page(OPERATOR)
def station(machine_id: str) -> str:
    with hunar().db.sessions() as s:
        me = _own_station(s, machine_id)
        view = st.station_view(s, machine_id[:64])
        mine = st.stations(s, me.stations) if len(me.stations) > 1 else []
        return render_template(
            "operator/station.html", view=view, token=uuid.uuid4().hex, my_stations=mine
        )


@bp.get("/station/<machine_id>/live")
@staff_page(OPERATOR)
def station_live(machine_id: str) -> Response:
    with hunar().db.sessions() as s:
        _own_station(s, machine_id)
        stamp = f"{change_stamp(s)}-{get_locale()}"  # a language switch is a new version
        if (nm := not_modified(stamp)) is not None:
            return nm
        html = render_template(
            "operator/_queue.html", view=st.station_view(s, machine_id[:64]), token=uuid.uuid4().hex
        )
    return with_etag(make_response(html), stamp)


@bp.get("/job/<job_order_id>")
@staff_page(OPERATOR)
def job(job_order_id: str) -> str:
    """The job packet; a traveler's QR code opens this page."""
    with hunar().db.sessions() as s:
        order, op, machine_id = st.job_packet(s, _job_id(job_order_id), _base_url())
        _own_station(s, machine_id)
        machine = found(s, Machine, machine_id, "machine")
        return render_template(
            "operator/job.html",
            job=order,
            op=op,
            machine_id=machine_id,
            token=uuid.uuid4().hex,
            c=st.card_for(s, order.job_order_id),
            bed_w=machine.build_x_mm or 250,
            bed_h=machine.build_y_mm or 210,
            bed_clear_needed=st.bed_clear_needed(s, machine_id),
        )


@bp.get("/job/<job_order_id>/traveler")
@staff_page(OPERATOR)
def traveler(job_order_id: str) -> str:
    with hunar().db.sessions() as s:
        order, _, machine_id = st.job_packet(s, _job_id(job_order_id), _base_url())
        _own_station(s, machine_id)
    return st.traveler_html(order)


@bp.post("/job/<job_order_id>/<any(start, pause, complete, scrap):action>")
@staff_page(OPERATOR)
def press(job_order_id: str, action: str) -> Response | tuple[Response, int]:
    form = request.form
    _own_job(job_order_id)
    event_id = (form.get("event_id") or "").strip()[:64]
    qty_raw = form.get("qty", "").strip()
    qty = whole_number(qty_raw, max_digits=6)
    if not event_id:
        return _answer(job_order_id, "invalid", "event_id is required (reload the page)", None)
    if action == "scrap" and qty is None:
        return _answer(job_order_id, "invalid", "qty: scrap needs a whole number ≥ 1", None)
    member = form.get("member", "").strip()[:64]
    if action == "scrap" and member:  # a plate: scrap is booked on the member order line
        job_order_id = _job_id(member)
    try:
        with hunar().db.transaction() as s:
            result = station_commands.press(
                s, job_order_id[:64], action, event_id, _me(s), qty, form.get("reason", "")[:500]
            )
            machine_id = st.machine_of_job(s, job_order_id[:64])[1]
    except (st.NotYourStation, NotFound):
        abort(404)
    except DomainError as exc:
        return _answer(job_order_id, "invalid", exc.message, None)
    return _answer(job_order_id, result.code, result.message, machine_id)


def _answer(
    job: str, code: str, message: str, machine_id: str | None
) -> Response | tuple[Response, int]:
    status = STATUS_BY_CODE.get(code, 409)
    if wants_json():
        if status >= 400:
            return error_response(status, code, message)
        return jsonify({"job_order_id": job, "code": code, "message": message})
    text = {"applied": message or _("Done."), "duplicate": _("Already done.")}.get(code, message)
    flash(f"{job}: {text}")
    target = (
        url_for("operator.station", machine_id=machine_id)
        if machine_id
        else url_for("operator.home")
    )
    if request.form.get("back") == "job":
        target = url_for("operator.job", job_order_id=job)
    return redirect(target, 303)


@bp.post("/job/<job_order_id>/fail-object")
@staff_page(OPERATOR)
def fail_object(job_order_id: str) -> Response | tuple[Response, int]:
    """One part of a running shared plate failed: scrap and re-queue only its order line."""
    form = request.form
    _own_job(job_order_id)
    event_id = (form.get("event_id") or "").strip()[:64]
    member = form.get("member", "").strip()[:64]
    if not event_id:
        return _answer(job_order_id, "invalid", "event_id is required (reload the page)", None)
    if not st.is_job_order_id(member):
        return _answer(job_order_id, "invalid", "member: pick the failed part's order line", None)
    try:
        with hunar().db.transaction() as s:
            result = plate_objects.fail_object(
                s, member, event_id, _me(s), form.get("reason", "").strip()[:200]
            )
            machine_id = st.machine_of_job(s, member)[1]
    except (st.NotYourStation, NotFound):
        abort(404)
    except DomainError as exc:
        return _answer(job_order_id, "invalid", exc.message, None)
    return _answer(job_order_id, result.code, result.message, machine_id)


@bp.get("/job/<job_order_id>/plate-clear")
@staff_page(OPERATOR)
def plate_clear_page(job_order_id: str) -> str:
    """Where a scan of the traveler's QR leads to confirm the plate clear: shows, changes nothing."""
    with hunar().db.sessions() as s:
        order, _, machine_id = st.job_packet(s, _job_id(job_order_id), _base_url())
        _own_station(s, machine_id)
        return render_template(
            "operator/plate_clear.html",
            job=order,
            machine_id=machine_id,
            needed=st.bed_clear_needed(s, machine_id),
        )


@bp.post("/job/<job_order_id>/plate-clear")
@staff_page(OPERATOR)
def plate_clear(job_order_id: str) -> Response | tuple[Response, int]:
    """The operator holding the traveler confirms its printer's plate clear (and QC passed)."""
    checks = request.form.getlist("check")
    _own_job(job_order_id)
    if len(checks) < 2:
        message = _("check: tick both boxes (the plate is clear, the last print passed QC)")
        if wants_json():
            return error_response(422, "invalid", message)
        flash(message)
        return redirect(url_for("operator.plate_clear_page", job_order_id=job_order_id), 303)
    try:
        with hunar().db.transaction() as s:
            machine_id = st.machine_of_job(s, job_order_id[:64])[1]
            recorded = station_commands.confirm_bed_clear(
                s, machine_id, _me(s), [c[:80] for c in checks], via="qr"
            )
    except (st.NotYourStation, NotFound):
        abort(404)
    if wants_json():
        return jsonify({"machine_id": machine_id, "recorded": recorded})
    flash(_cleared(machine_id, recorded, _("plate clear")))
    return redirect(url_for("operator.station", machine_id=machine_id), 303)


@bp.post("/station/<machine_id>/bed-clear")
@staff_page(OPERATOR)
def bed_clear(machine_id: str) -> Response:
    checks = request.form.getlist("check")
    if len(checks) < 2:
        flash(_("Tick both boxes: the bed is clear and the last print passed QC."))
        return redirect(url_for("operator.station", machine_id=machine_id), 303)
    try:
        with hunar().db.transaction() as s:
            recorded = station_commands.confirm_bed_clear(
                s, machine_id[:64], _me(s), [c[:80] for c in checks]
            )
    except (st.NotYourStation, NotFound):
        abort(404)
    flash(_cleared(machine_id, recorded, _("bed clear")))
    return redirect(url_for("operator.station", machine_id=machine_id), 303)


def _cleared(machine_id: str, recorded: bool, what: str) -> str:
    """The flash after a bed/plate-clear confirmation, in the page's language."""
    if recorded:
        return _(
            "%(machine)s: %(what)s and QC confirmed; the next print may start.",
            machine=machine_id,
            what=what,
        )
    return _(
        "%(machine)s: %(what)s and QC were already confirmed; the next print may start.",
        machine=machine_id,
        what=what,
    )
