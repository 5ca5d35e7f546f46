"""Staff administration for admins: people, roles, stations, deactivation, password resets.

Views are thin: each form is a `web.admin.forms` class (shape only: present, length caps), and
every change is an `orders.commands.staff` command (the same ones `hunar user` runs), so the
guard rails and audit events do not depend on which door was used. A form's field-rule failure
is refused like any other: the page again, 422, the field named. A generated password is
rendered into the answer once and never put in a flash message (cookies are signed, not
encrypted).
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
from web.admin.forms import (
    ActiveForm,
    AddUserForm,
    ResetPasswordForm,
    RoleForm,
    StationsForm,
)
from web.auth import hunar
from web.errors import domain_status
from web.planner.access import actor, staff_page

bp = Blueprint("admin", __name__, url_prefix="/admin")


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


@bp.get("/users")
@staff_page(Role.ADMIN)
def users() -> tuple[str, int]:
    return _page()


@bp.post("/users")
@staff_page(Role.ADMIN)
def add_user() -> tuple[str, int]:
    try:
        form = AddUserForm().checked()
        role = staff.parse_role(form.role.data)
        with hunar().db.transaction() as s:
            user, password = staff.add_staff(
                s, actor(), form.email.data, role, form.display_name.data, form.stations.data
            )
            email = user.email
    except DomainError as exc:
        return _refused(exc)
    return _page(201, new_password=(email, password))


@bp.post("/users/<id:user_id>/role")
@staff_page(Role.ADMIN)
def set_role(user_id: int) -> Response | tuple[str, int]:
    try:
        role = staff.parse_role(RoleForm().checked().role.data)
        with hunar().db.transaction() as s:
            user = staff.set_role(s, actor(), user_id, role)
            flash(f"{user.email} is now {user.role.value}.")
    except DomainError as exc:
        return _refused(exc)
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<id:user_id>/stations")
@staff_page(Role.ADMIN)
def set_stations(user_id: int) -> Response | tuple[str, int]:
    try:
        stations = StationsForm().checked().stations.data
        with hunar().db.transaction() as s:
            user = staff.assign_stations(s, actor(), user_id, stations)
            flash(f"{user.email}: stations {', '.join(user.station_ids) or 'none'}.")
    except DomainError as exc:
        return _refused(exc)
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<id:user_id>/active")
@staff_page(Role.ADMIN)
def set_active(user_id: int) -> Response | tuple[str, int]:
    try:
        active = ActiveForm().checked().active.data == "1"
        with hunar().db.transaction() as s:
            user = staff.set_active(s, actor(), user_id, active)
            flash(f"{user.email} is {'active' if user.active else 'deactivated'}.")
    except DomainError as exc:
        return _refused(exc)
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<id:user_id>/password")
@staff_page(Role.ADMIN)
def reset_password(user_id: int) -> tuple[str, int]:
    """The admin's password, or a generated one when the field is empty; shown once."""
    try:
        form = ResetPasswordForm().checked()
        with hunar().db.transaction() as s:
            password = staff.reset_password(
                s, actor(), user_id, form.password.data or None, form.request_key.data
            )
            email = s.get_one(User, user_id).email
    except DomainError as exc:
        return _refused(exc)
    return _page(200, new_password=(email, password))
