"""Two languages, both directions: pages in English or Urdu (Flask-Babel), Urdu right to left.

Which language a page is in, first match wins: the signed-in person's saved choice
(`users.language`), else the visitor's cookie, else the browser's `Accept-Language` (best of
en/ur), else English. `POST /language` switches: it saves the choice for a signed-in person
(so it follows them to every device) and sets the cookie for everyone.

Templates mark text with `_()`; the catalogues live in `web/translations/` (`messages.pot` from
`pybabel extract -F babel.cfg`, one `.po` per language) and `make install` compiles them to the
`.mo` files Flask-Babel reads. Money and times keep their own filters (`orders.formats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, has_request_context, redirect, request, url_for
from flask_babel import Babel, get_locale, gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from orders.commands.accounts import LANGUAGES, set_language
from web.auth import hunar
from web.errors import ApiError

COOKIE = "hunar_language"
COOKIE_MAX_AGE = 365 * 24 * 3600  # a year: a visitor's choice outlives their session


@dataclass(frozen=True)
class Language:
    """A language pages come in: its code, its own name (what the switch shows) and direction."""

    code: str
    name: str
    direction: str


CHOICES = {
    "en": Language("en", "English", "ltr"),
    "ur": Language("ur", "اردو", "rtl"),
}
assert tuple(CHOICES) == LANGUAGES, "web.i18n and orders.commands.accounts name the same set"

bp = Blueprint("i18n", __name__)


def N_(text: str) -> str:  # noqa: N802  (the name pybabel looks for)
    """Mark text for the catalogue where it is translated later, when it is shown."""
    return text


# Flask-Login's flash before the sign-in page (web.auth); translated as it is flashed.
SIGN_IN_FIRST = N_("Please sign in to continue.")


def select_locale() -> str:
    """The page's language: saved choice, cookie, Accept-Language, English (see the module).
    Text rendered outside a request (a job, the CLI) is in English."""
    if not has_request_context():
        return LANGUAGES[0]
    saved = getattr(current_user, "language", None) if current_user.is_authenticated else None
    if saved in CHOICES:
        return str(saved)
    cookie = request.cookies.get(COOKIE)
    if cookie in CHOICES:
        return str(cookie)
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def page_language() -> Language:
    """The language of the page being rendered (for `<html lang dir>` and the switch)."""
    return CHOICES.get(str(get_locale()), CHOICES[LANGUAGES[0]])


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LANGUAGES[0])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")  # web/translations
    Babel(app, locale_selector=select_locale)
    manager = app.login_manager  # type: ignore[attr-defined]
    manager.login_message, manager.localize_callback = SIGN_IN_FIRST, gettext
    app.jinja_env.globals.update(page_language=page_language, languages=CHOICES.values())
    app.after_request(_vary)
    app.register_blueprint(bp)


def _vary(resp: Response) -> Response:
    """A page's language follows the browser's languages and the cookie: a cache in between
    must keep one copy per language, not hand an Urdu page to an English reader."""
    if resp.mimetype == "text/html":
        resp.vary.update(("Accept-Language", "Cookie"))
    return resp


def _back_to(referrer: str | None) -> str:
    """The page the switch was pressed on (its Referer, query included), if it is on this site;
    else the catalogue. Only a path is returned, so this is no open redirect."""
    parts = urlsplit(referrer or "")
    path = parts.path
    foreign = parts.netloc != request.host or not path.startswith("/") or path.startswith("//")
    if foreign or "\\" in path:
        return url_for("shop.index")
    return path + (f"?{parts.query}" if parts.query else "")


@bp.post("/language")
def choose_language() -> Response:
    """The language switch: saved for a signed-in person, a cookie for everyone; back to the
    page it was pressed on (the Referer, which Referrer-Policy same-origin keeps). An unknown language is a 422 naming `language`."""
    got = request.form.getlist("language")
    choice = got[-1] if got else ""
    if choice not in CHOICES:
        raise ApiError(
            422,
            "invalid_language",
            f"language must be one of: {', '.join(LANGUAGES)}",
            {"language": f"one of {', '.join(LANGUAGES)}"},
        )
    if current_user.is_authenticated:
        with hunar().db.transaction() as s:
            set_language(s, current_user.id, choice)
    resp = redirect(_back_to(request.referrer), code=303)
    resp.set_cookie(
        COOKIE,
        choice,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return resp
