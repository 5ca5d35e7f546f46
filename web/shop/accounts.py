"""Sign-up, sign-in, sign-out and API tokens for customers."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from orders.errors import DomainError
from orders.models import ApiToken, Role, User
from orders.services.accounts import create_user, hash_password, issue_token, verify_password
from web.auth import SessionUser, hunar
from web.ratelimit import limited
from web.shop import bp

MAX_TOKENS = 10


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the login form is no open redirect."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("shop.index")


@bp.route("/signup", methods=["GET", "POST"])
@limited("signup")
def signup() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("shop/signup.html", errors={}, email="", name="")
    email = request.form.get("email", "")[:300]
    name = request.form.get("name", "")[:120].strip() or None
    password = request.form.get("password", "")[:1024]
    try:
        with hunar().db.transaction() as s:
            user = SessionUser.of(create_user(s, email, password, Role.CUSTOMER, name))
    except DomainError as exc:
        return render_template(
            "shop/signup.html", errors=exc.fields, message=exc.message, email=email, name=name or ""
        ), 422
    session.clear()
    login_user(user)
    flash("Welcome to Hunar! Your account is ready.")
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/login", methods=["GET", "POST"])
@limited("login")
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("shop/login.html", email="", next=request.args.get("next", ""))
    email = request.form.get("email", "")[:300].strip().lower()
    password = request.form.get("password", "")[:1024]
    with hunar().db.sessions() as s:
        user = s.scalar(select(User).where(User.email == email))
        if user is None:
            hash_password(password)  # same work as a real check: no e-mail probing by timing
        ok = user is not None and user.active and verify_password(user, password)
        snapshot = SessionUser.of(user) if ok and user is not None else None
    if snapshot is None:
        return render_template(
            "shop/login.html",
            email=email,
            next=request.form.get("next", ""),
            message="That e-mail and password do not match.",
        ), 401
    session.clear()  # a fresh session on sign-in (no fixation)
    login_user(snapshot)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    session.clear()
    return redirect(url_for("shop.index"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limited("token")
def account() -> str:
    new_token = None
    with hunar().db.transaction() as s:
        if request.method == "POST":
            name = request.form.get("name", "").strip()[:120] or "api client"
            count = s.scalar(
                select(func.count())
                .select_from(ApiToken)
                .where(ApiToken.user_id == current_user.id, ApiToken.revoked.is_(False))
            )
            if (count or 0) >= MAX_TOKENS:
                flash(f"You already have {MAX_TOKENS} tokens.")
            else:
                new_token = issue_token(s, s.get_one(User, current_user.id), name)
        tokens = [
            (t.name, t.created_at)
            for t in s.scalars(
                select(ApiToken).where(
                    ApiToken.user_id == current_user.id, ApiToken.revoked.is_(False)
                )
            )
        ]
    return render_template("shop/account.html", tokens=tokens, new_token=new_token)
