"""Signed REST intake for shop-floor status (machines and MES peers that speak webhooks).

`POST /api/floor/events` with `X-Hunar-Timestamp` and `X-Hunar-Signature` (HMAC-SHA256 over the
timestamp and body, see `mes_bridge.transports.webhook`). The event goes through the same floor
command as buttons, MQTT and OPC UA; refusals answer 409 with the reason, bad signatures 401.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event, signed_rest_event
from orders.errors import FloorMessageRejected
from web.auth import hunar
from web.errors import ApiError

bp = Blueprint("floor", __name__, url_prefix="/api/floor")


@bp.post("/events")
def events() -> tuple[Response, int]:
    ctx = hunar()
    secret = ctx.settings.floor_webhook_secret
    if not secret:
        raise ApiError(503, "not_configured", "floor webhooks are not configured on this server")
    try:
        parsed = signed_rest_event(request.get_data(), request.headers, secret, datetime.now(UTC))
    except FloorMessageRejected as exc:
        raise ApiError(401 if exc.code == "bad_signature" else 422, exc.code, exc.message) from exc
    with ctx.db.transaction() as s:
        result = apply_event(s, parsed, Actor(f"rest:{parsed.machine_id or 'floor'}"))
    if not result.ok:
        raise ApiError(409, result.code, result.message)
    return jsonify({"status": result.code, "event_id": parsed.event_id}), 200
