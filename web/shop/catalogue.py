"""Catalogue and the per-family configurator page (works without JS; JS makes it live)."""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response as WerkzeugResponse

import configurator
from configurator.errors import UnknownFamilyError
from orders.commands.designs import save_design
from orders.errors import DomainError
from orders.models import Role
from orders.queries.catalog import check_quantity_tier, tiers
from orders.queries.designs import design_params, get_design, live_quote, live_quote_json
from web import MAX_ID, last_value, whole_number
from web.auth import hunar
from web.ratelimit import check as rate_check
from web.shop import bp
from web.shop.cart import add_line
from web.shop.forms import (
    all_materials,
    categories,
    family_detail,
    filter_families,
    read_form_params,
    read_query_params,
)
from web.shop.thumbnails import thumbnail_svg

ANON_PAGE_TTL_S = 10.0
# (language, category, material) -> (rendered at, page, the CSRF token rendered into it)
_anon_pages: dict[tuple[str, str | None, str | None], tuple[float, str, str]] = {}


@bp.get("/")
def index() -> str:
    """The catalogue; the page every visitor sees is rendered once per 10 s, not per request."""
    category = (request.args.get("category") or "")[:40] or None
    material = (request.args.get("material") or "")[:40] or None
    anonymous = not current_user.is_authenticated and not session.get("_flashes")
    key = (str(get_locale()), category, material)  # each language its own page
    hit = _anon_pages.get(key) if anonymous else None
    if hit is not None and time.monotonic() - hit[0] < ANON_PAGE_TTL_S:
        # the language switch's CSRF token is this visitor's own, not the first renderer's
        return hit[1].replace(hit[2], generate_csrf())
    html = _catalogue(category, material)
    known = category in (None, *categories()) and material in (None, *all_materials())
    if anonymous and known:
        _anon_pages[key] = (time.monotonic(), html, generate_csrf())
    return html


def _catalogue(category: str | None, material: str | None) -> str:
    return render_template(
        "index.html",
        families=filter_families(category, material),
        categories=categories(),
        materials=all_materials(),
        category=category,
        material=material,
    )


def _family(key: str) -> configurator.Family:
    try:
        return configurator.get_family(key)
    except UnknownFamilyError:
        abort(404, description=f"there is no product called '{key[:40]}'")


@bp.get("/catalogue/<key>/thumbnail.svg")
def thumbnail(key: str) -> WerkzeugResponse:
    """The default design drawn from its preview; the category icon until one is built."""
    family = _family(key)
    svg = thumbnail_svg(hunar(), family)
    if svg is None:
        resp = redirect(url_for("static", filename=f"img/{family.category}.svg"))
        resp.headers["Cache-Control"] = "no-cache"
        return resp
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=300"})


@bp.get("/shop/<key>")
def configure(key: str) -> str:
    """The form with the family's defaults, a saved design of mine (`from`), or the values in
    the query (the design an anonymous visitor had before signing in), checked again here."""
    family = _family(key)
    values: dict[str, Any] = family.default_raw()
    from_id = request.args.get("from", type=int)
    if from_id is not None and 0 <= from_id <= MAX_ID and current_user.is_authenticated:
        with hunar().db.sessions() as s:
            row = get_design(s, current_user, from_id)
            if row.family_key == family.key:
                values |= design_params(row)
    carried = read_query_params(family, request.args)
    if not carried:
        return _render(family, values, {}, None, 1, "standard")
    values |= carried
    qty, tier = 1, "standard"
    try:
        qty, tier = check_quantity_tier(
            _int(request.args.get("quantity", "1")[:12]), request.args.get("tier", "standard")
        )
    except DomainError:
        pass  # a quantity or tier that does not hold: the defaults, the design as carried
    result = configurator.validate(family.key, values)
    errors = {e.param: e.message for e in result.errors}
    return _render(family, values, errors, None, qty, tier, status=200 if result.ok else 422)


@bp.post("/shop/<key>")
def configure_submit(key: str) -> WerkzeugResponse | str:
    """The no-JS path: 'quote' re-renders with the price; 'add' also puts it in the cart."""
    family = _family(key)
    rate_check("quote")
    raw = read_form_params(family, request.form)
    try:
        qty, tier = check_quantity_tier(
            _int(last_value(request.form, "quantity", "1")),
            last_value(request.form, "tier", "standard"),
        )
    except DomainError as exc:
        return _render(family, raw, exc.fields, None, 1, "standard", status=422)
    result = configurator.validate(family.key, raw)
    if not result.ok or result.config is None:
        errors = {e.param: e.message for e in result.errors}
        return _render(family, raw, errors, None, qty, tier, status=422)
    ctx = hunar()
    with ctx.db.sessions() as s:
        viewer = current_user if current_user.is_authenticated else None
        lq = live_quote(s, result.config, qty, tier, ctx.settings.currency, viewer=viewer)
    quote = live_quote_json(lq)
    if request.form.get("action") != "add":
        return _render(family, raw, {}, quote, qty, tier)
    if not current_user.is_authenticated:
        flash(_("Sign in to add designs to your cart."))
        back = url_for("shop.configure", key=family.key, **raw, quantity=qty, tier=tier)
        return redirect(url_for("shop.login", next=back))
    if current_user.role != Role.CUSTOMER:
        abort(403)
    if not lq.orderable:
        flash(_("This design cannot be ordered as configured; see the reasons below."))
        return _render(family, raw, {}, quote, qty, tier, status=422)
    with ctx.db.transaction() as s:
        row = save_design(s, current_user, family.key, raw, ctx.settings.currency)
        config_id = row.id
    add_line(session, config_id, family.key, qty, tier)
    flash(_("Added %(qty)s × %(name)s to your cart.", qty=qty, name=family.name))
    return redirect(url_for("shop.cart"))


def _int(raw: str | None) -> object:
    """The quantity as a number when it is one; otherwise the raw text, which the quantity rule
    refuses naming the field."""
    number = whole_number(raw, max_digits=9)
    return raw if number is None else number


def _render(
    family: configurator.Family,
    values: dict[str, Any],
    errors: dict[str, str],
    quote: dict[str, Any] | None,
    qty: int,
    tier: str,
    status: int = 200,
) -> Any:
    detail = family_detail(family)
    html = render_template(
        "shop/configure.html",
        family=family,
        detail=detail,
        values=values,
        errors=errors,
        quote=quote,
        qty=qty,
        tier=tier,
        tiers=tiers(),
        max_qty=family.max_qty,
        currency=current_app.extensions["hunar"].settings.currency,
    )
    return html, status
