"""API views: thin wrappers over the configurator and `orders` services, one error shape."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from flask import jsonify, request, send_file
from flask_login import current_user
from werkzeug.wrappers import Response

import configurator
from configurator.errors import UnknownFamilyError
from orders.commands.artifacts import check_makeable, request_build
from orders.commands.audit import Actor
from orders.commands.checkout_payment import choice_for
from orders.commands.designs import save_design
from orders.commands.ordering import LineRequest, place_order
from orders.context import AppContext
from orders.errors import UnknownFamily
from orders.models import Role
from orders.queries.artifacts import build_status
from orders.queries.catalog import check_quantity_tier, validate_or_raise
from orders.queries.designs import cached_quote_json, design_params, get_design
from orders.queries.tracking import list_orders, track_order, tracking_json
from web.api import bp, public_preview
from web.api.body import family_key, json_object, params, quantity_tier
from web.auth import SessionUser, api_roles, api_user, hunar, read_only
from web.errors import ApiError
from web.files import send_artifact
from web.ratelimit import check as rate_check
from web.ratelimit import limited
from web.shop.forms import family_detail, family_summary

MAX_LINES = 20
_inflight: set[tuple[str, int]] = set()  # in-process builds running in this worker (no RQ)
_inflight_lock = threading.Lock()


def _me() -> SessionUser:
    user = api_user()
    assert user is not None  # api_roles has checked
    return user


def _customer_scope(user: SessionUser) -> int | None:
    return user.id if user.role == Role.CUSTOMER else None


@bp.get("/families")
def families() -> Response:
    return jsonify({"families": [family_summary(f) for f in configurator.all_families()]})


@bp.get("/families/<key>")
def family(key: str) -> Response:
    try:
        return jsonify(family_detail(configurator.get_family(key)))
    except UnknownFamilyError as exc:
        raise UnknownFamily(key[:64]) from exc


@bp.post("/validate")
@read_only
def validate() -> Response:
    api_user()  # cookie users must send the CSRF header
    rate_check("quote")
    body = json_object({"family", "params"}, {"family"})
    result = configurator.validate(family_key(body), params(body))
    if any(e.code == "unknown_family" for e in result.errors):
        raise UnknownFamily(str(body["family"])[:64])
    return jsonify(
        {
            "ok": result.ok,
            "config_hash": result.config.config_hash if result.config else None,
            "errors": [
                {"param": e.param, "code": e.code, "message": e.message} for e in result.errors
            ],
        }
    )


def _quote_request() -> tuple[configurator.Configuration, int, str]:
    api_user()
    rate_check("quote")
    body = json_object({"family", "params", "quantity", "tier"}, {"family"})
    config = validate_or_raise(family_key(body), params(body))
    qty, tier = check_quantity_tier(*quantity_tier(body), config.family_key)
    return config, qty, tier


def _viewer() -> Any:
    """Who asks a read-only quote (token or session; no CSRF needed to read), else None."""
    if request.headers.get("Authorization"):
        return api_user()
    return current_user if current_user.is_authenticated else None


@bp.post("/quote")
@read_only
def quote() -> Response:
    config, qty, tier = _quote_request()
    ctx = hunar()
    with ctx.db.sessions() as s:
        return jsonify(
            cached_quote_json(s, config, qty, tier, ctx.settings.currency, viewer=_viewer())
        )


@bp.post("/promise")
@read_only
def promise() -> Response:
    config, qty, tier = _quote_request()
    ctx = hunar()
    with ctx.db.sessions() as s:
        body = cached_quote_json(s, config, qty, tier, ctx.settings.currency, viewer=_viewer())
    return jsonify(
        {
            "quantity": qty,
            "tier": tier,
            "promise": body["promise"],
            "feasibility": body["feasibility"],
            "orderable": body["orderable"],
        }
    )


@bp.post("/configurations")
@api_roles(Role.CUSTOMER)
@limited("design")
def save_configuration() -> tuple[Response, int]:
    body = json_object({"family", "params"}, {"family"})
    ctx = hunar()
    with ctx.db.transaction() as s:
        row = save_design(s, _me(), family_key(body), params(body), ctx.settings.currency)
        out = _design_json(row)
    return jsonify(out), 201


def _design_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "family": row.family_key,
        "version": row.family_version,
        "config_hash": row.config_hash,
        "params": design_params(row),
    }


@bp.get("/configurations/<id:config_id>")
@api_roles(Role.CUSTOMER)
def get_configuration(config_id: int) -> Response:
    with hunar().db.sessions() as s:
        return jsonify(_design_json(get_design(s, _me(), config_id)))


@bp.route("/configurations/<id:config_id>/preview", methods=["GET", "POST"])
@api_roles(Role.CUSTOMER)
def preview(config_id: int) -> tuple[Response, int]:
    """GET: the CAD build's state; POST: start it (deduplicated by config hash). A design no
    machine here can make is answered 422 `not_makeable` with feasibility's reasons, unbuilt."""
    ctx = hunar()
    with ctx.db.sessions() as s:
        row = get_design(s, _me(), config_id)
        if request.method == "POST" and build_status(ctx, config_id).state in ("none", "failed"):
            check_makeable(s, row)  # in this request: a build thread's refusal would be lost
    status, started = 200, False
    if request.method == "POST":
        status = 202
        if build_status(ctx, config_id).state in ("none", "failed"):
            _start_build(ctx, config_id)
            started = True
    st = build_status(ctx, config_id)
    if started and st.state in ("none", "failed"):  # the build thread has not recorded it yet
        st = replace(st, state="queued", progress=0.0, stage="queued", error=None)
    url = f"/files/{st.preview_artifact_id}" if st.preview_artifact_id else None
    return jsonify(
        {
            "configuration_id": config_id,
            "state": st.state,
            "progress": st.progress,
            "stage": st.stage,
            "preview_artifact_id": st.preview_artifact_id,
            "preview_url": url,
            "findings": st.findings,
            "metrics": st.metrics,
            "error": st.error,
        }
    ), status


@bp.post("/preview")
def anonymous_preview() -> tuple[Response, int]:
    """The live preview for anyone, by the visitor's own values (see `public_preview`): an
    existing build is reused; a new design or build counts against the strict limits."""
    api_user()  # cookie users must send the CSRF header
    rate_check("preview_poll")
    body = json_object({"family", "params"}, {"family"})
    out = public_preview.start(hunar(), family_key(body), params(body), _start_build)
    return jsonify(out), 202


@bp.get("/preview/<config_hash>")
def anonymous_preview_status(config_hash: str) -> Response:
    rate_check("preview_poll")
    return jsonify(public_preview.status(hunar(), config_hash))


@bp.get("/preview/<config_hash>/model.glb")
def anonymous_preview_glb(config_hash: str) -> Response:
    """The preview model of a design the visitor named by its hash (a digest of its values)."""
    rate_check("preview_poll")
    found = public_preview.glb(hunar(), config_hash)
    resp = send_file(found.path, mimetype="model/gltf-binary", max_age=3600, etag=found.etag)
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


def _start_build(ctx: AppContext, config_id: int) -> None:
    """With RQ the job is queued; without it, a thread runs it so no request waits on CAD
    (a blocking build would also outlive gunicorn's worker timeout)."""
    if ctx.queue.backend == "rq":
        request_build(ctx, config_id)
        return
    key = (ctx.db.url, config_id)
    with _inflight_lock:
        if key in _inflight:
            return
        _inflight.add(key)

    def run() -> None:
        try:
            request_build(ctx, config_id)
        finally:
            with _inflight_lock:
                _inflight.discard(key)

    threading.Thread(target=run, name=f"cad-{config_id}", daemon=True).start()


@bp.get("/orders")
@api_roles(Role.CUSTOMER)
def orders() -> Response:
    with hunar().db.sessions() as s:
        rows = list_orders(s, _me().id)
    return jsonify(
        {
            "orders": [
                {
                    "id": o.order_id,
                    "status": o.status,
                    "currency": o.currency,
                    "total": o.total,
                    "created_at": o.created_at.isoformat(),
                    "lines": o.line_count,
                }
                for o in rows
            ]
        }
    )


@bp.post("/orders")
@api_roles(Role.CUSTOMER)
def create_order() -> tuple[Response, int]:
    body = json_object({"lines", "idempotency_key", "payment_method"}, {"lines"})
    method = body.get("payment_method")
    if method is not None and not isinstance(method, str):
        raise ApiError(
            422, "invalid_field", "payment_method must be text", {"payment_method": "text"}
        )
    key = body.get("idempotency_key") or request.headers.get("Idempotency-Key", "")
    if not isinstance(key, str) or not 1 <= len(key) <= 128:
        raise ApiError(
            422,
            "invalid_field",
            "idempotency_key must be 1-128 characters",
            {"idempotency_key": "required, 1-128 characters"},
        )
    reqs = _line_requests(body.get("lines"))
    ctx, me = hunar(), _me()
    with ctx.db.transaction() as s:
        for r in reqs:
            get_design(s, me, r.configuration_id)  # someone else's design is not found
        choice = choice_for(s, ctx.settings, me.id, method)
        actor = Actor(me.email, me.id)
        result = place_order(s, me.id, reqs, key, actor, ctx.settings.currency, choice)
        order_id = result.order.id
    with ctx.db.sessions() as s:
        out = tracking_json(track_order(s, order_id, me.id))
    return jsonify(out), 201 if result.created else 200


def _config_of(s: Any, config_id: int) -> configurator.Configuration:
    from orders.lookup import found
    from orders.models import ProductConfiguration
    from orders.queries.catalog import load_config

    return load_config(found(s, ProductConfiguration, config_id, "configuration"))


def _line_requests(raw: object) -> list[LineRequest]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_LINES:
        raise ApiError(
            422,
            "invalid_field",
            f"lines must hold 1 to {MAX_LINES} lines",
            {"lines": f"1-{MAX_LINES} lines"},
        )
    out = []
    for i, line in enumerate(raw):
        if not isinstance(line, dict) or set(line) - {"configuration_id", "quantity", "tier"}:
            raise ApiError(
                422,
                "invalid_field",
                f"line {i + 1} must be an object with configuration_id, quantity and tier",
                {f"lines[{i}]": "bad shape"},
            )
        cid = line.get("configuration_id")
        if isinstance(cid, bool) or not isinstance(cid, int) or not 1 <= cid <= 2**31 - 1:
            raise ApiError(
                422,
                "invalid_field",
                f"line {i + 1}: configuration_id must be an id",
                {f"lines[{i}].configuration_id": "positive integer"},
            )
        qty, tier = check_quantity_tier(line.get("quantity", 1), line.get("tier", "standard"))
        out.append(LineRequest(cid, qty, tier))
    return out


@bp.get("/orders/<id:order_id>")
@api_roles(Role.CUSTOMER)
def order(order_id: int) -> Response:
    me = _me()
    with hunar().db.sessions() as s:
        return jsonify(tracking_json(track_order(s, order_id, _customer_scope(me))))


@bp.get("/artifacts/<id:artifact_id>")
@api_roles(Role.CUSTOMER, Role.PLANNER, Role.OPERATOR)
def artifact(artifact_id: int) -> Response:
    """A stored file (job packets link here): staff see every design, customers their own."""
    return send_artifact(_me(), artifact_id)


@bp.get("/me")
@api_roles(Role.CUSTOMER, Role.PLANNER, Role.OPERATOR)
def me() -> Response:
    user = _me()
    return jsonify({"id": user.id, "email": user.email, "role": user.role})
