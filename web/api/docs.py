"""OpenAPI 3 description of the API, served at /api/openapi.json and browsable at /api/docs."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Response, jsonify, render_template

import configurator
from orders.queries.catalog import tiers
from orders.shop import shop_numbers
from web.api import bp
from web.api.body import MAX_PARAMS, MAX_TEXT

ERRORS = {
    "400": "Malformed body",
    "401": "No or bad credentials",
    "403": "Wrong role",
    "404": "Not found (including other customers' objects)",
    "409": "Conflict",
    "413": "Body too large",
    "422": "Invalid input; `fields` names each problem",
    "429": "Rate limited; see Retry-After",
}
OBJ: dict[str, Any] = {"type": "object"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _op(
    summary: str,
    ok: str,
    schema: str,
    *,
    body: str | None = None,
    auth: bool = False,
    path_id: str | None = None,
    errors: tuple[str, ...] = ("400", "413", "422", "429"),
    status: str = "200",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            status: {"description": ok, "content": {"application/json": {"schema": _ref(schema)}}}
        },
    }
    codes = set(errors) | ({"401", "403"} if auth else set()) | ({"404"} if path_id else set())
    for code in sorted(codes):
        op["responses"][code] = {
            "description": ERRORS[code],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if auth:
        op["security"] = [{"bearer": []}, {"session": []}]
    if path_id:
        op["parameters"] = [
            {
                "name": path_id,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            }
        ]
    return op


def _file_op() -> dict[str, Any]:
    """A stored CAD file (STEP, STL, 3MF, DXF, GLB, G-code); job packets link here."""
    op = _op(
        "Download a stored CAD file",
        "The file",
        "Error",
        auth=True,
        path_id="artifact_id",
        errors=(),
    )
    op["responses"]["200"] = {
        "description": "The file",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
    return op


def _schemas() -> dict[str, Any]:
    scalar = {
        "anyOf": [
            {"type": "string", "maxLength": MAX_TEXT},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
        ]
    }
    family = {"type": "string", "enum": [f.key for f in configurator.all_families()]}
    design_properties = {
        "family": family,
        "params": {
            "type": "object",
            "maxProperties": MAX_PARAMS,
            "additionalProperties": scalar,
        },
    }
    design = {
        "type": "object",
        "additionalProperties": False,
        "required": ["family"],
        "properties": design_properties,
    }
    qty = {"type": "integer", "minimum": 1, "maximum": shop_numbers().max_line_quantity}
    tier = {"type": "string", "enum": list(tiers())}
    quote_req = {**design, "properties": {**design_properties, "quantity": qty, "tier": tier}}
    line = {
        "type": "object",
        "additionalProperties": False,
        "required": ["configuration_id"],
        "properties": {
            "configuration_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            "quantity": qty,
            "tier": tier,
        },
    }
    promise = {
        "type": "object",
        "required": ["ok", "ship_date"],
        "properties": {
            "ok": {"type": "boolean"},
            "ship_date": {"type": ["string", "null"], "format": "date"},
            "method": {"type": "string"},
            "reasons": {"type": "array", "items": {"type": "string"}},
        },
    }
    feas = {
        "type": "object",
        "required": ["ok", "reasons"],
        "properties": {"ok": {"type": "boolean"}, "reasons": {"type": "array", "items": OBJ}},
    }
    money = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
    reason = {
        "type": "object",
        "required": ["source", "code", "message"],
        "properties": {
            "source": {"type": "string", "enum": ["feasibility", "dfm"]},
            "code": {"type": "string"},
            "message": {"type": "string"},
            "param": {"type": ["string", "null"]},
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "fields"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                }
            },
        },
        "FamilyList": {
            "type": "object",
            "required": ["families"],
            "properties": {"families": {"type": "array", "items": OBJ}},
        },
        "Family": {
            "type": "object",
            "required": ["key", "groups", "defaults"],
            "properties": {"key": {"type": "string"}, "groups": {"type": "array"}, "defaults": OBJ},
        },
        "DesignRequest": design,
        "QuoteRequest": quote_req,
        "Validation": {
            "type": "object",
            "required": ["ok", "errors"],
            "properties": {
                "ok": {"type": "boolean"},
                "config_hash": {"type": ["string", "null"]},
                "errors": {
                    "type": "array",
                    "items": {"type": "object", "required": ["param", "code", "message"]},
                },
            },
        },
        "Quote": {
            "type": "object",
            "required": [
                "total",
                "unit_price",
                "source",
                "lines",
                "promise",
                "feasibility",
                "orderable",
                "makeable",
                "reasons",
            ],
            "properties": {
                "total": {"anyOf": [money, {"type": "null"}]},
                "unit_price": {"anyOf": [money, {"type": "null"}]},
                "source": {"type": "string", "enum": ["analytic", "measured"]},
                "lines": {"type": "array", "items": OBJ},
                "promise": promise,
                "feasibility": feas,
                "makeable": {
                    "type": "boolean",
                    "description": "false: no machine fits it or CAD measured a Required DFM "
                    "finding; total, unit_price and ship_date are then null",
                },
                "reasons": {"type": "array", "items": reason},
                "orderable": {"type": "boolean"},
            },
        },
        "Promise": {
            "type": "object",
            "required": ["promise", "orderable"],
            "properties": {
                "promise": promise,
                "feasibility": feas,
                "orderable": {"type": "boolean"},
            },
        },
        "Configuration": {
            "type": "object",
            "required": ["id", "family", "config_hash", "params"],
            "properties": {
                "id": {"type": "integer"},
                "family": {"type": "string"},
                "config_hash": {"type": "string"},
                "params": OBJ,
            },
        },
        "Preview": {
            "type": "object",
            "required": ["state", "progress"],
            "properties": {
                "state": {
                    "type": "string",
                    "enum": ["none", "queued", "building", "ready", "failed"],
                },
                "progress": {"type": "number"},
                "preview_url": {"type": ["string", "null"]},
                "findings": {"type": "array", "items": OBJ},
            },
        },
        # The server refuses an order without a key (a retry must not order twice), so the
        # schema says so: a client generated from it must send one.
        "OrderRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["lines", "idempotency_key"],
            "properties": {
                "lines": {"type": "array", "minItems": 1, "maxItems": 20, "items": line},
                "idempotency_key": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 128,
                    "description": "Any text unique per order; a repeat returns the first order.",
                },
            },
        },
        "OrderList": {
            "type": "object",
            "required": ["orders"],
            "properties": {"orders": {"type": "array", "items": OBJ}},
        },
        "Order": {
            "type": "object",
            "required": ["id", "status", "lines"],
            "properties": {
                "id": {"type": "integer"},
                "status": {"type": "string"},
                "total": money,
                "lines": {
                    "type": "array",
                    "items": {"type": "object", "required": ["id", "status", "timeline"]},
                },
            },
        },
        "Me": {"type": "object", "required": ["id", "role"]},
    }


@cache
def spec() -> dict[str, Any]:
    design_errs = ("400", "404", "413", "422", "429")
    create = _op(
        "Place an order (idempotent per key)",
        "Order already placed with this key",
        "Order",
        body="OrderRequest",
        auth=True,
        errors=("400", "404", "409", "413", "422"),
    )
    create["responses"]["201"] = {
        "description": "Order placed",
        "content": {"application/json": {"schema": _ref("Order")}},
    }
    preview_post = _op(
        "Start the CAD build (preview, files, findings)",
        "Build state",
        "Preview",
        auth=True,
        path_id="config_id",
        errors=("400",),
        status="202",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hunar shop API",
            "version": "1",
            "description": "Configure, quote, order and track made-to-order parts. "
            'Errors: {"error": {"code", "message", "fields"}}.',
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "paths": {
            "/api/families": {"get": _op("Product families", "Families", "FamilyList", errors=())},
            "/api/families/{key}": {
                "get": {
                    **_op("One family's grouped parameters", "Family", "Family", errors=("404",)),
                    "parameters": [
                        {
                            "name": "key",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                }
            },
            "/api/validate": {
                "post": _op(
                    "Validate a design",
                    "Verdict",
                    "Validation",
                    body="DesignRequest",
                    errors=design_errs,
                )
            },
            "/api/quote": {
                "post": _op(
                    "Itemised quote, promise and feasibility",
                    "Quote",
                    "Quote",
                    body="QuoteRequest",
                    errors=design_errs,
                )
            },
            "/api/promise": {
                "post": _op(
                    "Promised ship date",
                    "Promise",
                    "Promise",
                    body="QuoteRequest",
                    errors=design_errs,
                )
            },
            "/api/configurations": {
                "post": _op(
                    "Save a design as mine",
                    "Saved",
                    "Configuration",
                    body="DesignRequest",
                    auth=True,
                    errors=design_errs,
                    status="201",
                )
            },
            "/api/configurations/{config_id}": {
                "get": _op(
                    "One of my designs",
                    "Design",
                    "Configuration",
                    auth=True,
                    path_id="config_id",
                    errors=(),
                )
            },
            "/api/configurations/{config_id}/preview": {
                "get": _op(
                    "CAD build state and preview URL",
                    "Build state",
                    "Preview",
                    auth=True,
                    path_id="config_id",
                    errors=(),
                ),
                "post": preview_post,
            },
            "/api/orders": {
                "get": _op("My orders", "Orders", "OrderList", auth=True, errors=()),
                "post": create,
            },
            "/api/orders/{order_id}": {
                "get": _op(
                    "One order with timeline and ETA",
                    "Order",
                    "Order",
                    auth=True,
                    path_id="order_id",
                    errors=(),
                )
            },
            "/api/me": {"get": _op("Who am I", "Me", "Me", auth=True, errors=())},
            "/api/artifacts/{artifact_id}": {"get": _file_op()},
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec())


@bp.get("/docs")
def docs() -> str:
    return render_template("api_docs.html")
