"""Sign-up, sign-in, sign-out, password reset by e-mailed link, and API tokens for customers.

Each form is a `web.shop.account_forms` class: a field-rule failure (missing, too long) is a
`FormInvalid`, refused like the order book's refusals, on the same page with the same status.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
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
from web.auth import SessionUser, hunar
from web.errors import domain_status
from web.ratelimit import limited
from web.shop import bp
from web.shop.account_forms import (
    ForgotForm,
    LoginForm,
    NewTokenForm,
    PasswordForm,
    ResetForm,
    RevokeTokenForm,
    SignupForm,
    token_form,
)


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
    form = SignupForm()
    try:
        form.checked()
        with hunar().db.transaction() as s:
            user = SessionUser.of(
                create_user(
                    s, form.email.data, form.password.data, Role.CUSTOMER, form.name.data or None
                )
            )
    except DomainError as exc:
        return render_template(
            "shop/signup.html",
            errors=exc.fields,
            message=exc.message,
            email=form.email.data,
            name=form.name.data,
        ), 422
    session.clear()
    login_user(user)
    flash(_("Welcome to Hunar! Your account is ready."))
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/login", methods=["GET", "POST"])
@limited("login")
def login() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if request.method == "GET":
        return render_template(
            "shop/login.html", email="", next=request.args.get("next", ""), errors={}
        )
    form = LoginForm()
    email, next_url = form.email.data, form.next.data
    try:
        form.checked()
    except DomainError as exc:
        return render_template(
            "shop/login.html", email=email, next=next_url, message=exc.message, errors=exc.fields
        ), domain_status(exc)
    with hunar().db.transaction() as s:
        attempt = sign_in(s, email, form.password.data)
        snapshot = SessionUser.of(attempt.user) if attempt.user is not None else None
    if attempt.locked:
        return (
            render_template(
                "shop/login.html",
                email=email,
                next=next_url,
                errors={},
                message=_(
                    "Too many failed sign-ins for this e-mail. Try again in %(s)s s.",
                    s=attempt.retry_after_s,
                ),
            ),
            429,
            {"Retry-After": str(attempt.retry_after_s)},
        )
    if snapshot is None:
        return render_template(
            "shop/login.html",
            email=email,
            next=next_url,
            errors={},
            message=_("That e-mail and password do not match."),
        ), 401
    session.clear()  # a fresh session on sign-in (no fixation)
    login_user(snapshot)
    if snapshot.must_change_password:
        flash(_("Choose your own password before you go on."))
        return redirect(url_for("shop.change_password", next=_safe_next(next_url)))
    return redirect(_safe_next(next_url))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limited("login")
def change_password() -> Response | str | tuple[str, int]:
    """Choose a new password; required after a seeded or reset one (see web.auth)."""
    next_url = request.values.get("next", "")[:500]
    if request.method == "GET":
        return render_template("shop/password.html", errors={}, next=next_url)
    try:
        form = PasswordForm().checked()
        with hunar().db.transaction() as s:
            user = SessionUser.of(
                change_own_password(
                    s, current_user.id, form.current_password.data, form.password.data
                )
            )
    except DomainError as exc:
        return render_template(
            "shop/password.html", errors=exc.fields, message=exc.message, next=next_url
        ), 422
    session.clear()  # the old sessions ended with the old password: this one starts afresh
    login_user(user)
    flash(_("Your password is changed."))
    return redirect(_safe_next(next_url))


@bp.route("/forgot", methods=["GET", "POST"])
@limited("login")
def forgot_password() -> str | tuple[str, int]:
    """Ask for a reset link. The answer is the same whether or not the address has an account
    (no address oracle); the form's one-off key makes a double submit send one link."""
    if request.method == "GET":
        return render_template("shop/forgot.html", errors={}, email="", sent=False)
    form = ForgotForm()
    try:
        form.checked()
        with hunar().db.transaction() as s:
            request_reset(s, form.email.data, form.request_key.data)
    except DomainError as exc:
        return render_template(
            "shop/forgot.html",
            errors=exc.fields,
            message=exc.message,
            email=form.email.data,
            sent=False,
        ), 422
    sent = _(
        "If an account has that address, we have sent it a link to choose a new password. "
        "It works once and expires soon; check your spam folder if it does not arrive."
    )
    return render_template("shop/forgot.html", errors={}, email="", sent=True, message=sent)


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
        form = ResetForm()
        problem = form.problem()
        if problem is not None:
            with hunar().db.sessions() as s:
                open_link(s, key, lock=False)  # a dead link says so before a typo does
            raise problem
        with hunar().db.transaction() as s:
            reset_with_link(s, key, form.password.data)
    except ResetLinkInvalid as exc:
        return _link_gone(exc)
    except DomainError as exc:
        page = render_template(
            "shop/reset.html", gone=False, errors=exc.fields, message=exc.message, key=key
        )
        return page, 422
    logout_user()
    session.clear()
    flash(_("Your password is changed and every session ended: sign in with the new password."))
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


def _token_action(s: Session, form: NewTokenForm | RevokeTokenForm) -> str | None:
    """Create a token (its clear value, shown once) or revoke one of the user's own."""
    if isinstance(form, RevokeTokenForm):
        revoke_token(s, current_user.id, form.chosen())
        flash(_("Token revoked: it no longer works."))
        return None
    return issue_token(s, s.get_one(User, current_user.id), form.name.data or "api client")


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limited("token")
def account() -> str | tuple[str, int]:
    """The user's API tokens. A form that breaks a field rule is a 422 naming the field; a
    refusal of the order book (a duplicate name, a token not theirs) is said on the page."""
    form = token_form() if request.method == "POST" else None
    refused = form.problem() if form is not None else None
    new_token = None
    with hunar().db.transaction() as s:
        if form is not None and refused is None:
            try:
                new_token = _token_action(s, form)
            except DomainError as exc:
                flash(exc.message)
        tokens = [(t.id, t.name, t.created_at) for t in live_tokens(s, current_user.id)]
    page = render_template(
        "shop/account.html",
        tokens=tokens,
        new_token=new_token,
        message=refused.message if refused else None,
        errors=refused.fields if refused else {},
    )
    return page, domain_status(refused) if refused else 200
