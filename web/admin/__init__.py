"""Staff administration for admins: people, roles, stations, deactivation, password resets.

Views are thin: every change is an `orders.commands.staff` command (the same ones `hunar user`
runs), so the guard rails and audit events do not depend on which door was used. A generated
password is rendered into the answer once and never put in a flash message (cookies are signed,
not encrypted).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from orders.commands import staff
from orders.errors import DomainError
from orders.models import Role, User
from orders.queries.staff import people, station_choices
from web import last_value
from web.auth import hunar
from web.errors import domain_status
from web.planner.access import actor, staff_page

bp = Blueprint("admin", __name__, url_prefix="/admin")
MAX_STATIONS = 100  # more than the shop has machines: a longer list is not a person's choice


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    everyone = request.args.get("all") == "1"
    with hunar().db.sessions() as s:
        html = render_template(
            "admin/users.html",
            people=people(s, staff_only=not everyone),
            machines=station_choices(s),
            roles=[r.value for r in Role],
            me=current_user.id,
            everyone=everyone,
            errors=extra.pop("errors", {}),
            **extra,
        )
    return html, status


def _refused(exc: DomainError) -> tuple[str, int]:
    """The page again with the message and the offending field named (4xx, never 500)."""
    return _page(domain_status(exc), message=exc.message, errors=exc.fields)


def _stations() -> list[str]:
    values = request.form.getlist("stations")
    if len(values) > MAX_STATIONS:
        raise DomainError(
            f"at most {MAX_STATIONS} stations", fields={"stations": f"at most {MAX_STATIONS}"}
        )
    return [v[:64] for v in values]


def _field(name: str, limit: int) -> str:
    return (last_value(request.form, name, "") or "")[:limit]


@bp.get("/users")
@staff_page(Role.ADMIN)
def users() -> tuple[str, int]:
    return _page()


@bp.post("/users")
@staff_page(Role.ADMIN)
def add_user() -> tuple[str, int]:
    try:
        with hunar().db.transaction() as s:
            user, password = staff.add_staff(
                s,
                actor(),
                _field("email", 300),
                staff.parse_role(_field("role", 40)),
                _field("display_name", 200),
                _stations(),
            )
            email = user.email
    except DomainError as exc:
        return _refused(exc)
    return _page(201, new_password=(email, password))


@bp.post("/users/<id:user_id>/role")
@staff_page(Role.ADMIN)
def set_role(user_id: int) -> Response | tuple[str, int]:
    try:
        with hunar().db.transaction() as s:
            user = staff.set_role(s, actor(), user_id, staff.parse_role(_field("role", 40)))
            flash(f"{user.email} is now {user.role.value}.")
    except DomainError as exc:
        return _refused(exc)
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<id:user_id>/stations")
@staff_page(Role.ADMIN)
def set_stations(user_id: int) -> Response | tuple[str, int]:
    try:
        with hunar().db.transaction() as s:
            user = staff.assign_stations(s, actor(), user_id, _stations())
            flash(f"{user.email}: stations {', '.join(user.station_ids) or 'none'}.")
    except DomainError as exc:
        return _refused(exc)
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<id:user_id>/active")
@staff_page(Role.ADMIN)
def set_active(user_id: int) -> Response | tuple[str, int]:
    raw = _field("active", 5)
    try:
        if raw not in ("0", "1"):
            raise DomainError("say whether the account is active", fields={"active": "0 or 1"})
        with hunar().db.transaction() as s:
            user = staff.set_active(s, actor(), user_id, raw == "1")
            flash(f"{user.email} is {'active' if user.active else 'deactivated'}.")
    except DomainError as exc:
        return _refused(exc)
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<id:user_id>/password")
@staff_page(Role.ADMIN)
def reset_password(user_id: int) -> tuple[str, int]:
    """The admin's password, or a generated one when the field is empty; shown once."""
    try:
        with hunar().db.transaction() as s:
            password = staff.reset_password(
                s, actor(), user_id, _field("password", 1024) or None, _field("request_key", 64)
            )
            email = s.get_one(User, user_id).email
    except DomainError as exc:
        return _refused(exc)
    return _page(200, new_password=(email, password))
