"""Hunar's web app: `create_app(settings)` wires the order book into Flask, connecting nothing yet.

Blueprints per role: `shop` (customers), `api` (JSON for pages and machine clients),
`planner` and `operator` (staff), `admin` (staff administration). Views stay thin and call
`orders` services.
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

from flask import Flask, Response, current_app, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from orders.context import AppContext
from orders.settings import Settings, load_settings

MAX_BODY_BYTES = 256 * 1024
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self' blob: data:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost")
MAX_ID = 2**31 - 1


WHOLE = re.compile(r"0|[1-9][0-9]*")  # ASCII digits, no sign, no "_", no leading zero
DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")


def whole_number(raw: str | None, max_digits: int = 10) -> int | None:
    """The one parser of whole numbers in forms, queries and URLs: ASCII digits without a sign,
    underscore or leading zero, bounded in length; None otherwise ("1_000", "١٢٣" and "01"
    are not numbers here, though int() takes them)."""
    if raw is None or len(raw) > max_digits or not WHOLE.fullmatch(raw):
        return None
    return int(raw)


def decimal_number(raw: str | None, max_chars: int = 12) -> float | None:
    """A plain ASCII decimal like "10" or "2.5" (no exponent, sign or underscore); else None."""
    if raw is None or len(raw) > max_chars or not DECIMAL.fullmatch(raw):
        return None
    return float(raw)


def last_value(values: Any, name: str, default: str | None = None) -> str | None:
    """The one rule for a field sent more than once: the last value counts (a checkbox sends a
    hidden "false" and then "true"), for every form field and query argument."""
    got = values.getlist(name)
    return got[-1] if got else default


class IdConverter(IntegerConverter):
    """Row ids in URLs: 0..2^31-1 in ASCII without leading zeros, so `/x/01` and `/x/١` are not
    aliases of `/x/1`, and an absurd id is a 404 that never reaches the database."""

    regex = r"(?:0|[1-9][0-9]{0,9})"

    def __init__(self, url_map: object) -> None:
        super().__init__(url_map, min=0, max=MAX_ID)  # type: ignore[arg-type]


def public_base_url() -> str:
    """The base of absolute links made in this request: HUNAR_PUBLIC_URL when set, else the
    address the request came to (so links work on whatever host the server runs)."""
    settings: Settings = current_app.extensions["hunar"].settings
    return settings.base_url(request.host_url) or request.host_url.rstrip("/")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.url_map.converters["id"] = IdConverter
    secure = bool(settings.public_url) and not str(settings.public_url).startswith(LOCAL_PREFIXES)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        JSON_SORT_KEYS=False,
    )
    ctx = AppContext.from_settings(settings)
    app.extensions["hunar"] = ctx
    _init_extensions(app, settings)
    _register_blueprints(app)
    from web import i18n  # English and Urdu pages, the language switch (POST /language)

    i18n.init_app(app)
    # A fresh key for each rendered form whose double submit must count once (propose, reset).
    app.jinja_env.globals["form_key"] = lambda: uuid.uuid4().hex
    _local_formats(app)

    @app.before_request
    def refuse_nul() -> None:
        """NUL is never text: PostgreSQL refuses it in text columns (a 500 deep in a view), so a
        request carrying one in its query, form or JSON is refused here, naming the field; a
        path with one names nothing that exists."""
        from web.errors import ApiError

        if "\x00" in request.path:
            raise ApiError(404, "not_found", "there is nothing at this address")
        body = _json_body()
        for value in (request.args, request.form, body):
            field = _nul_field(value, "")
            if field is not None:
                raise ApiError(
                    422,
                    "invalid_text",
                    f"{field or 'the request'} contains a NUL character",
                    {field or "body": "no NUL characters"},
                )

    @app.before_request
    def mail_links_from_trusted_host() -> None:
        """E-mails written by this request link back to the address it came to, if the shop
        serves that host itself (`HUNAR_TRUSTED_HOSTS`); HUNAR_PUBLIC_URL still wins."""
        from flask import g

        from orders.adapters.mail import set_link_base

        trusted = not settings.public_url and settings.trusts_host(request.host)
        g.mail_link_token = set_link_base(request.host_url if trusted else None)

    @app.teardown_request
    def forget_mail_links(_exc: BaseException | None) -> None:
        from flask import g

        from orders.adapters.mail import reset_link_base

        token = g.pop("mail_link_token", None)
        if token is not None:
            try:
                reset_link_base(token)
            except ValueError:  # torn down in another context (a streamed body): nothing to undo
                pass

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.after_request
    def deliver_outbox(resp: Response) -> Response:
        """A write may have asked for work (CAD for a new order, a plan after a breakdown):
        hand it to the queue now, and send the e-mails it wrote. If the queue or the mail
        server is down the request stays in the outbox, and `hunar dispatch` or the next write
        delivers it."""
        from web.auth import is_read_only

        view = app.view_functions.get(request.endpoint or "")
        if request.method != "GET" and resp.status_code < 400 and not is_read_only(view):
            from redis.exceptions import RedisError
            from sqlalchemy.exc import SQLAlchemyError

            from orders.adapters.mail import flush_mail
            from orders.adapters.outbox import flush_enqueues

            try:  # the write itself is committed: its answer must not turn into a 500 here
                flush_enqueues(ctx, limit=20)
            except (OSError, RedisError, SQLAlchemyError) as exc:
                app.logger.warning("outbox not flushed (left pending): %s", exc)
            try:  # SMTP errors are recorded on the row by flush_mail itself
                flush_mail(ctx, limit=20)
            except (OSError, SQLAlchemyError) as exc:
                app.logger.warning("e-mails not flushed (left pending): %s", exc)
        return resp

    orphan_sweep = {"next": 0.0}

    @app.after_request
    def run_orphaned_jobs(resp: Response) -> Response:
        """Every 30 s per process: in-process jobs whose web worker died run again here."""
        import time

        if ctx.queue.backend == "inprocess" and time.monotonic() >= orphan_sweep["next"]:
            from sqlalchemy.exc import SQLAlchemyError

            from orders.adapters.outbox import requeue_orphans

            orphan_sweep["next"] = time.monotonic() + 30
            try:
                requeue_orphans(ctx, limit=20)
            except (OSError, SQLAlchemyError) as exc:
                app.logger.warning("orphaned jobs not checked: %s", exc)
        return resp

    @app.after_request
    def security_headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if "Cache-Control" not in resp.headers and _signed_in():
            resp.headers["Cache-Control"] = "no-store"  # a page of one person's: never kept
        if secure:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return resp

    if not settings.redis_url:  # jobs run in this process: the first preview should not wait
        from orders.jobs import warm_up

        threading.Thread(target=warm_up, name="warm-cad", daemon=True).start()
    return app


def _local_formats(app: Flask) -> None:
    """Money and times as the shop reads them (`orders.formats`): `{{ amount|money(cur) }}`,
    `{{ at|when }}`, `{{ at|when('weekday') }}`, `{{ d|day }}`, and `zone` ("PKT") for labels.
    The page's body carries the zone and locale for the scripts that redraw times."""
    from orders import formats

    app.jinja_env.filters.update(money=formats.money, when=formats.when, day=formats.day)
    app.jinja_env.globals.update(
        zone=formats.zone_label,
        shop_time_zone=lambda: formats.locality().time_zone,
        shop_locale=lambda: formats.locality().locale.replace("_", "-"),
        currency_signs=lambda: formats.locality().currency_signs,
    )


def _signed_in() -> bool:
    """A session user or a bearer token: what the response shows belongs to someone. Read from
    the request alone (no user lookup), so it cannot fail while the database is away."""
    from flask import session

    return bool(request.authorization) or "_user_id" in session


MAX_JSON_DEPTH = 32  # no request of this API nests deeper than a handful of levels


def _json_body() -> Any:
    """The request's JSON (None if it has none or it does not parse); a document nested deeper
    than MAX_JSON_DEPTH is refused with a 400 before anything walks it recursively."""
    from web.errors import ApiError

    if not request.is_json:
        return None
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the parser itself gave up: far too deep
        body = None
        deep = True
    else:
        deep = _depth_exceeds(body, MAX_JSON_DEPTH)
    if deep:
        raise ApiError(
            400,
            "invalid_body",
            f"the JSON document nests deeper than {MAX_JSON_DEPTH} levels",
            {"body": f"at most {MAX_JSON_DEPTH} levels of nesting"},
        )
    return body


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when arrays/objects nest deeper than `limit` (iterative: no recursion to exhaust)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _nul_field(value: Any, where: str) -> str | None:
    """The name (dotted path) of the first value holding a NUL character, else None."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if hasattr(value, "lists"):  # a MultiDict (form fields, query arguments): name the field
        for key, values in value.lists():
            if "\x00" in key or any("\x00" in v for v in values if isinstance(v, str)):
                return key
        return None
    if isinstance(value, dict | list):
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in pairs:
            name = f"{where}.{key}" if where else str(key)
            found = name if "\x00" in str(key) else _nul_field(item, name)
            if found is not None:
                return found or name
    return None


def _init_extensions(app: Flask, settings: Settings) -> None:
    from web import auth, errors
    from web.ratelimit import DEFAULT_LIMITS, RateLimiter

    app.config["HUNAR_RATE_LIMITS"] = dict(DEFAULT_LIMITS)
    app.extensions["hunar_ratelimit"] = RateLimiter(settings.redis_url)
    app.extensions["hunar_csrf"] = CSRFProtect(app)
    auth.init_app(app)
    errors.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from web.admin import bp as admin_bp
    from web.api import bp as api_bp
    from web.floor import bp as floor_bp
    from web.operator import bp as operator_bp
    from web.planner import bp as planner_bp
    from web.shop import bp as shop_bp

    app.extensions["hunar_csrf"].exempt(api_bp)  # the API checks X-CSRFToken for cookie users
    app.extensions["hunar_csrf"].exempt(floor_bp)  # machines sign their requests (HMAC)
    for bp in (shop_bp, api_bp, floor_bp, planner_bp, operator_bp, admin_bp):
        app.register_blueprint(bp)
