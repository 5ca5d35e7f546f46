"""Staff-only pages: customers get a 404 (the staff side is not theirs to discover), other staff
roles a 403, anonymous visitors the login page. Also the ETag helper the live pages poll with."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, abort, current_app, make_response, request
from flask_login import current_user

from orders.commands.audit import Actor
from orders.models import Role


def staff_page(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if current_user.role == Role.CUSTOMER:
                abort(404)
            if current_user.role not in roles and current_user.role != Role.ADMIN:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return deco


def actor() -> Actor:
    return Actor(current_user.display_name, current_user.id)


def not_modified(stamp: str) -> Response | None:
    """A 304 when the poller already has this version (the ETag is weak: content is derived)."""
    if request.if_none_match.contains_weak(stamp):
        resp = make_response("", 304)
        resp.set_etag(stamp, weak=True)
        return resp
    return None


def with_etag(resp: Response, stamp: str) -> Response:
    resp.set_etag(stamp, weak=True)
    resp.headers["Cache-Control"] = "no-cache, private"
    return resp
