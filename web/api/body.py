"""Strict JSON bodies: an object, known fields only, right types; errors name the field."""

from __future__ import annotations

from typing import Any

from flask import request

from web.errors import ApiError

SCALAR = (str, int, float, bool)
MAX_PARAMS = 64
MAX_TEXT = 500


def json_object(allowed: set[str], required: set[str]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400, "invalid_body", "send a JSON object with Content-Type: application/json"
        )
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            422,
            "unknown_field",
            f"unknown field(s): {', '.join(unknown)[:200]}",
            {k[:40]: "not allowed" for k in unknown[:20]},
        )
    missing = sorted(required - set(body))
    if missing:
        raise ApiError(
            422,
            "missing_field",
            f"missing field(s): {', '.join(missing)}",
            {k: "required" for k in missing},
        )
    return body


def family_key(body: dict[str, Any]) -> str:
    key = body.get("family")
    if not isinstance(key, str) or not key or len(key) > 64:
        raise ApiError(
            422,
            "invalid_field",
            "family must be a product key (text, 1-64 chars)",
            {"family": "text, 1-64 characters"},
        )
    return key


def params(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("params", {})
    if not isinstance(raw, dict) or len(raw) > MAX_PARAMS:
        raise ApiError(
            422,
            "invalid_field",
            f"params must be an object of at most {MAX_PARAMS} values",
            {"params": "object of parameter values"},
        )
    for name, value in raw.items():
        if value is not None and not isinstance(value, SCALAR):
            raise ApiError(
                422,
                "invalid_field",
                f"parameter '{name[:40]}' must be a text, number or yes/no",
                {f"params.{name[:40]}": "scalar value"},
            )
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise ApiError(
                422,
                "invalid_field",
                f"parameter '{name[:40]}' is too long",
                {f"params.{name[:40]}": f"at most {MAX_TEXT} characters"},
            )
    return raw


def quantity_tier(body: dict[str, Any]) -> tuple[object, object]:
    return body.get("quantity", 1), body.get("tier", "standard")
