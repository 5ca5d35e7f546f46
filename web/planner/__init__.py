"""Planner pages (stub until the planning issue): only planners and admins get in."""

from __future__ import annotations

from flask import Blueprint, render_template

from orders.models import Role
from web.auth import page_roles

bp = Blueprint("planner", __name__, url_prefix="/planner")


@bp.get("/")
@page_roles(Role.PLANNER)
def home() -> str:
    return render_template("staff_stub.html", area="Planning",
                           note="Plans, approvals and releases arrive with the planner issue.")  # fmt: skip
