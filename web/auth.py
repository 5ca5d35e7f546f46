"""Who is asking: Flask-Login sessions for people, bearer tokens for machine clients, roles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import validate_csrf
from werkzeug.wrappers import Response
from wtforms import ValidationError

from orders.commands.accounts import user_for_token
from orders.context import AppContext
from orders.models import Role, User
from web.errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class SessionUser:
    """A plain snapshot of the signed-in user: no ORM object outlives its session."""

    id: int
    email: str
    display_name: str
    role: str
    active: bool = True
    session_version: int = 0
    must_change_password: bool = False
    language: str | None = None  # the page language they chose (web.i18n)

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """What the session cookie keeps: the user and the session version it was made in."""
        return f"{self.id}:{self.session_version}"

    @classmethod
    def of(cls, user: User) -> SessionUser:
        return cls(
            user.id,
            user.email,
            user.display_name,
            str(user.role),
            user.active,
            user.session_version,
            user.must_change_password,
            user.language,
        )


def hunar() -> AppContext:
    ctx: AppContext = current_app.extensions["hunar"]
    return ctx


def read_only(view: F) -> F:
    """Mark a POST that changes nothing (a quote, a validation): no outbox flush after it, so
    the hottest endpoint does not pay for (or, on SQLite, queue behind) the write path."""
    view.hunar_read_only = True  # type: ignore[attr-defined]
    return view


def is_read_only(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, "hunar_read_only", False))


def init_app(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "shop.login"
    manager.login_message = "Please sign in to continue."

    @manager.user_loader
    def _load(cookie_id: str) -> SessionUser | None:
        """The signed-in user, unless the cookie's session version has been ended since."""
        from web import MAX_ID, whole_number

        raw_id, _, raw_version = cookie_id.partition(":")
        user_id, version = whole_number(raw_id), whole_number(raw_version)
        if user_id is None or version is None or user_id > MAX_ID:
            return None
        with hunar().db.sessions() as s:
            user = s.get(User, user_id)
            if user is None or not user.active or user.session_version != version:
                return None
            return SessionUser.of(user)

    app.before_request(_password_change_first)


# Where a user who must change their password may still go: the change page, sign-out,
# and what those pages need (assets).
UNTIL_CHANGED = frozenset({"shop.change_password", "shop.logout", "static", "healthz"})


def _password_change_first() -> Response | None:
    """A seeded or reset password was seen by someone else: until its holder chooses their
    own, every page redirects to the change-password page and the API answers 403."""
    if request.endpoint in UNTIL_CHANGED or request.authorization:
        return None
    if not (current_user.is_authenticated and current_user.must_change_password):
        return None
    if request.path.startswith("/api/"):
        raise ApiError(
            403, "password_change_required", "choose a new password at /account/password first"
        )
    return redirect(url_for("shop.change_password", next=request.full_path.rstrip("?")))


def page_roles(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Pages: anonymous -> the login page; signed in with another role -> 403."""

    def deco(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if current_user.role not in roles and current_user.role != Role.ADMIN:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return deco


def api_user() -> SessionUser | None:
    """The bearer-token user, else the session user (whose writes must carry the CSRF token)."""
    if "api_user" in g:
        return g.api_user
    header = request.headers.get("Authorization", "")
    user: SessionUser | None = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "use 'Authorization: Bearer <token>'")
        with hunar().db.sessions() as s:
            row = user_for_token(s, token.strip())
            if row is None or not row.active:
                raise ApiError(401, "unauthorized", "the API token is unknown or revoked")
            user = SessionUser.of(row)
    elif current_user.is_authenticated:
        _check_session_csrf()
        user = current_user._get_current_object()
    g.api_user = user
    return user


def _check_session_csrf() -> None:
    """Cookie-authenticated API writes need the page's CSRF token in X-CSRFToken."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError as exc:
        raise ApiError(400, "csrf_failed", f"CSRF check failed: {exc}") from exc


def api_roles(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """API: no credentials -> 401, another role -> 403, both in the one error shape."""

    def deco(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = api_user()
            if user is None:
                raise ApiError(401, "unauthorized", "sign in or send a bearer token")
            if user.role not in roles and user.role != Role.ADMIN:
                raise ApiError(403, "forbidden", f"this endpoint is for: {', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapper

    return deco
