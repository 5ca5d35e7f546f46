"""Sign-up, sign-in, sign-out, password reset by e-mailed link, and API tokens for customers."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from orders.commands.accounts import (
    create_user,
    end_sessions,
    issue_token,
    live_tokens,
    revoke_token,
)
from orders.commands.password_reset import (
    ResetLinkInvalid,
    open_link,
    request_reset,
    reset_with_link,
)
from orders.commands.sign_in import sign_in
from orders.commands.staff import change_own_password
from orders.errors import DomainError
from orders.models import Role, User
from web import last_value, whole_number
from web.auth import SessionUser, hunar
from web.ratelimit import limited
from web.shop import bp


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
def login() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if request.method == "GET":
        return render_template("shop/login.html", email="", next=request.args.get("next", ""))
    email = request.form.get("email", "")[:300].strip().lower()
    password = request.form.get("password", "")[:1024]
    with hunar().db.transaction() as s:
        attempt = sign_in(s, email, password)
        snapshot = SessionUser.of(attempt.user) if attempt.user is not None else None
    if attempt.locked:
        return (
            render_template(
                "shop/login.html",
                email=email,
                next=request.form.get("next", ""),
                message=f"Too many failed sign-ins for this e-mail. Try again in {attempt.retry_after_s} s.",
            ),
            429,
            {"Retry-After": str(attempt.retry_after_s)},
        )
    if snapshot is None:
        return render_template(
            "shop/login.html",
            email=email,
            next=request.form.get("next", ""),
            message="That e-mail and password do not match.",
        ), 401
    session.clear()  # a fresh session on sign-in (no fixation)
    login_user(snapshot)
    if snapshot.must_change_password:
        flash("Choose your own password before you go on.")
        next_url = _safe_next(request.form.get("next"))
        return redirect(url_for("shop.change_password", next=next_url))
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limited("login")
def change_password() -> Response | str | tuple[str, int]:
    """Choose a new password; required after a seeded or reset one (see web.auth)."""
    next_url = request.values.get("next", "")[:500]
    if request.method == "GET":
        return render_template("shop/password.html", errors={}, next=next_url)
    current = request.form.get("current_password", "")[:1024]
    new = request.form.get("password", "")[:1024]
    try:
        if new != request.form.get("password_again", "")[:1024]:
            raise DomainError(
                "the two new passwords differ", fields={"password_again": "must match"}
            )
        with hunar().db.transaction() as s:
            user = SessionUser.of(change_own_password(s, current_user.id, current, new))
    except DomainError as exc:
        return render_template(
            "shop/password.html", errors=exc.fields, message=exc.message, next=next_url
        ), 422
    session.clear()  # the old sessions ended with the old password: this one starts afresh
    login_user(user)
    flash("Your password is changed.")
    return redirect(_safe_next(next_url))


SENT = (
    "If an account has that address, we have sent it a link to choose a new password. "
    "It works once and expires soon; check your spam folder if it does not arrive."
)


@bp.route("/forgot", methods=["GET", "POST"])
@limited("login")
def forgot_password() -> str | tuple[str, int]:
    """Ask for a reset link. The answer is the same whether or not the address has an account
    (no address oracle); the form's one-off key makes a double submit send one link."""
    if request.method == "GET":
        return render_template("shop/forgot.html", errors={}, email="", sent=False)
    email = (last_value(request.form, "email", "") or "")[:300]
    key = (last_value(request.form, "request_key", "") or "")[:64]
    try:
        with hunar().db.transaction() as s:
            request_reset(s, email, key)
    except DomainError as exc:
        return render_template(
            "shop/forgot.html", errors=exc.fields, message=exc.message, email=email, sent=False
        ), 422
    return render_template("shop/forgot.html", errors={}, email="", sent=True, message=SENT)


def _link_gone(exc: ResetLinkInvalid) -> tuple[str, int]:
    return render_template("shop/reset.html", gone=True, message=exc.message, errors={}), 410


@bp.route("/reset/<key>", methods=["GET", "POST"])
@limited("login")
def reset_password(key: str) -> Response | str | tuple[str, int]:
    """The e-mailed link: choose a new password once. Every session ends (this one too), so
    the user signs in again with the new password."""
    try:
        if request.method == "GET":
            with hunar().db.sessions() as s:
                open_link(s, key, lock=False)
            return render_template("shop/reset.html", gone=False, errors={}, key=key)
        new = (last_value(request.form, "password", "") or "")[:1024]
        again = (last_value(request.form, "password_again", "") or "")[:1024]
        with hunar().db.transaction() as s:
            if new != again:
                open_link(s, key, lock=False)  # a dead link says so before a typo does
                raise DomainError(
                    "the two new passwords differ", fields={"password_again": "must match"}
                )
            reset_with_link(s, key, new)
    except ResetLinkInvalid as exc:
        return _link_gone(exc)
    except DomainError as exc:
        page = render_template(
            "shop/reset.html", gone=False, errors=exc.fields, message=exc.message, key=key
        )
        return page, 422
    logout_user()
    session.clear()
    flash("Your password is changed and every session ended: sign in with the new password.")
    return redirect(url_for("shop.login"))


@bp.post("/logout")
def logout() -> Response:
    """Signing out ends every session of this user, so a copied cookie dies with it."""
    if current_user.is_authenticated:
        with hunar().db.transaction() as s:
            end_sessions(s, current_user.id, current_user.session_version)
    logout_user()
    session.clear()
    return redirect(url_for("shop.index"))


def _token_action(s: Session) -> str | None:
    """Create a token (its clear value, shown once) or revoke one of the user's own."""
    if last_value(request.form, "action") == "revoke":
        token_id = whole_number(last_value(request.form, "token_id", ""))
        if token_id is None:
            raise DomainError("choose a token to revoke", fields={"token_id": "whole number"})
        revoke_token(s, current_user.id, token_id)
        flash("Token revoked: it no longer works.")
        return None
    name = (last_value(request.form, "name", "") or "").strip()[:120] or "api client"
    return issue_token(s, s.get_one(User, current_user.id), name)


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limited("token")
def account() -> str:
    new_token = None
    with hunar().db.transaction() as s:
        if request.method == "POST":
            try:
                new_token = _token_action(s)
            except DomainError as exc:
                flash(exc.message)
        tokens = [(t.id, t.name, t.created_at) for t in live_tokens(s, current_user.id)]
    return render_template("shop/account.html", tokens=tokens, new_token=new_token)
