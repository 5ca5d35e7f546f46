"""Operator pages (stub until the shop-floor issue): only operators and admins get in."""

from __future__ import annotations

from flask import Blueprint, render_template

from orders.models import Role
from web.auth import page_roles

bp = Blueprint("operator", __name__, url_prefix="/operator")


@bp.get("/")
@page_roles(Role.OPERATOR)
def home() -> str:
    return render_template("staff_stub.html", area="Shop floor",
                           note="Job lists and start/done/scrap events arrive with the operator issue.")  # fmt: skip
