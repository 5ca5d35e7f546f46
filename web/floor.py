"""Signed REST intake for shop-floor status (machines and MES peers that speak webhooks).

`POST /api/floor/events` with `X-Hunar-Timestamp` and `X-Hunar-Signature` (HMAC-SHA256 over the
timestamp and body, see `mes_bridge.transports.webhook`). The event goes through the same floor
service as buttons, MQTT and OPC UA; refusals answer 409 with the reason, bad signatures 401.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

from mes_bridge.intake import Rejection, parse_rest
from orders.services.audit import Actor
from orders.services.floor import apply_event
from web.auth import hunar
from web.errors import ApiError

bp = Blueprint("floor", __name__, url_prefix="/api/floor")


@bp.post("/events")
def events() -> tuple[Response, int]:
    ctx = hunar()
    secret = ctx.settings.floor_webhook_secret
    if not secret:
        raise ApiError(503, "not_configured", "floor webhooks are not configured on this server")
    parsed = parse_rest(request.get_data(), request.headers, secret.encode(), datetime.now(UTC))
    if isinstance(parsed, Rejection):
        status = 401 if parsed.code == "bad_signature" else 422
        raise ApiError(status, parsed.code, parsed.reason)
    with ctx.db.transaction() as s:
        result = apply_event(s, parsed, Actor(f"rest:{parsed.machine_id or 'floor'}"))
    if not result.ok:
        raise ApiError(409, result.code, result.message)
    return jsonify({"status": result.code, "event_id": parsed.event_id}), 200
