"""Stock desk for planners: spools and sheets, low-stock alerts, the jobs a printer's loaded
spool would refuse, and the forms to receive, load/unload and weigh in.

Views only translate: the rules live in `orders/commands/stock.py` and `orders/queries/stock.py`.
Forms carry the CSRF token and a fresh idempotency key (a double click counts once); a refusal
names its field and rule (422) or the missing item (404), never a 500.
"""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from configurator.materials import materials
from configurator.processes import Process
from orders.commands import stock as cmd
from orders.errors import DomainError
from orders.models import Role
from orders.queries import stock as q
from web import MAX_ID, last_value, whole_number
from web.auth import hunar
from web.errors import domain_status
from web.planner import _refused, bp
from web.planner.access import actor, staff_page


def _field(name: str) -> str:
    return (last_value(request.form, name, "") or "").strip()


def _item_id() -> int:
    number = whole_number(_field("item_id").removeprefix("#"))
    if number is None or number > MAX_ID:
        raise DomainError("item must be a stock number like 12", fields={"item_id": "whole number"})
    return number


def _refuse(exc: DomainError) -> Response | tuple[str, int]:
    return _refused(domain_status(exc), exc)


@bp.get("/stock")
@staff_page(Role.PLANNER)
def stock() -> str:
    with hunar().db.sessions() as s:
        return render_template(
            "planner/stock.html",
            items=q.stock_items(s),
            balances=q.balances(s),
            warnings=q.floor_warnings(s),
            reservations=q.reservations(s),
            printers=q.fdm_machines(s),
            rules=q.stock_rules(),
            spool_materials={
                m.key: m.colours for m in materials().values() if Process.FDM in m.processes
            },
            sheet_materials=[m.key for m in materials().values() if Process.LASER in m.processes],
            idempotency_key=uuid.uuid4().hex,
        )


@bp.post("/stock/receive")
@staff_page(Role.PLANNER)
def stock_receive() -> Response | tuple[str, int]:
    try:
        with hunar().db.transaction() as s:
            items, created = cmd.receive(
                s,
                kind=_field("kind"),
                material=_field("material"),
                colour=_field("colour"),
                grams=_field("grams"),
                tare_g=_field("tare_g") or None,
                thickness_mm=_field("thickness_mm"),
                sheets=_field("sheets"),
                count=_field("count") or "1",
                location=_field("location"),
                idempotency_key=_field("idempotency_key"),
                actor=actor(),
            )
            ids = ", ".join(f"#{i.id}" for i in items)
    except DomainError as exc:
        return _refuse(exc)
    flash(f"Received {ids}." if created else f"Already received as {ids}.")
    return redirect(url_for("planner.stock"), 303)


@bp.post("/stock/load")
@staff_page(Role.PLANNER)
def stock_load() -> Response | tuple[str, int]:
    try:
        item_id, machine_id = _item_id(), _field("machine_id")
        if not machine_id:
            raise DomainError("printer is required", fields={"machine_id": "an FDM printer"})
        with hunar().db.transaction() as s:
            changed = cmd.load_spool(s, item_id, machine_id[:64], actor()).changed
    except DomainError as exc:
        return _refuse(exc)
    flash(f"Spool #{item_id} {'loaded on' if changed else 'was already on'} {machine_id}.")
    return redirect(url_for("planner.stock"), 303)


@bp.post("/stock/unload")
@staff_page(Role.PLANNER)
def stock_unload() -> Response | tuple[str, int]:
    try:
        item_id = _item_id()
        with hunar().db.transaction() as s:
            changed = cmd.unload_spool(s, item_id, actor(), _field("location")).changed
    except DomainError as exc:
        return _refuse(exc)
    flash(f"Spool #{item_id} {'unloaded' if changed else 'was not loaded'}.")
    return redirect(url_for("planner.stock"), 303)


@bp.post("/stock/adjust")
@staff_page(Role.PLANNER)
def stock_adjust() -> Response | tuple[str, int]:
    try:
        item_id = _item_id()
        with hunar().db.transaction() as s:
            done = cmd.adjust(
                s,
                item_id,
                measured_g=_field("measured_g"),
                sheets=_field("sheets"),
                idempotency_key=_field("idempotency_key"),
                actor=actor(),
            )
            i = done.item
            left = f"{i.grams_left:g} g" if i.kind == "spool" else f"{i.sheets_left} sheets"
    except DomainError as exc:
        return _refuse(exc)
    flash(f"#{item_id}: {left} left." if done.changed else "That weigh-in was already applied.")
    return redirect(url_for("planner.stock"), 303)
