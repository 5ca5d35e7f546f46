"""The OpenAPI document's component schemas: one request schema per product family.

A design request names its family, and each family has its own parameters and its own
quantity limit, so `DesignRequest` and `QuoteRequest` are a `oneOf` over the families
(`Design_<key>`, `Quote_<key>`), with `family` as the discriminator.
"""

from __future__ import annotations

from typing import Any

import configurator
from orders.queries.catalog import tiers
from orders.shop import shop_numbers
from web.api.body import MAX_PARAMS, MAX_TEXT
from web.api.openapi_params import family_params

OBJ: dict[str, Any] = {"type": "object"}


def family_requests(tier: dict[str, Any]) -> dict[str, Any]:
    """`Design_<key>` and `Quote_<key>` for every family, and the two `oneOf`s over them."""
    out: dict[str, Any] = {}
    shop_limit = shop_numbers().max_line_quantity
    keys = [f.key for f in configurator.all_families()]
    for family in configurator.all_families():
        props: dict[str, Any] = {"family": {"const": family.key}, "params": family_params(family)}
        design = {
            "type": "object",
            "additionalProperties": False,
            "required": ["family"],
            "properties": props,
        }
        limit = min(family.max_qty, shop_limit)
        qty = {"type": "integer", "minimum": 1, "maximum": limit}
        quote = {**design, "properties": {**props, "quantity": qty, "tier": tier}}
        out[f"Design_{family.key}"] = design
        out[f"Quote_{family.key}"] = quote
    # /api/validate judges drafts: any scalar values, answered with a verdict of every problem
    out["DesignDraft"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["family"],
        "properties": {
            "family": {"type": "string", "enum": keys},
            "params": {
                "type": "object",
                "maxProperties": MAX_PARAMS,
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string", "maxLength": MAX_TEXT},
                        {"type": "number"},
                        {"type": "boolean"},
                        {"type": "null"},
                    ]
                },
            },
        },
    }
    for name, prefix in (("DesignRequest", "Design"), ("QuoteRequest", "Quote")):
        out[name] = {
            "oneOf": [{"$ref": f"#/components/schemas/{prefix}_{k}"} for k in keys],
            "discriminator": {
                "propertyName": "family",
                "mapping": {k: f"#/components/schemas/{prefix}_{k}" for k in keys},
            },
        }
    return out


def schemas() -> dict[str, Any]:
    """Every component schema: requests per family, answers, errors."""
    qty = {"type": "integer", "minimum": 1, "maximum": shop_numbers().max_line_quantity}
    tier = {"type": "string", "enum": list(tiers())}
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
        **family_requests(tier),
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
        # The anonymous preview names no row, owner or parameter: only the visitor's own hash.
        "PublicPreview": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "config_hash",
                "state",
                "progress",
                "stage",
                "preview_url",
                "findings",
                "error",
            ],
            "properties": {
                "config_hash": {"type": "string", "pattern": "^[0-9a-f]{16,128}$"},
                "state": {
                    "type": "string",
                    "enum": ["none", "queued", "building", "ready", "failed"],
                },
                "progress": {"type": "number", "minimum": 0, "maximum": 1},
                "stage": {"type": "string"},
                "preview_url": {
                    "type": ["string", "null"],
                    "pattern": r"^/api/preview/[0-9a-f]{16,128}/model\.glb$",
                    "description": "set as soon as the model exists (before the build ends)",
                },
                "findings": {
                    "type": "array",
                    "items": OBJ,
                    "description": "what the design check found; only once ready",
                },
                "error": {"type": ["string", "null"], "description": "set when failed"},
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
                "payment_method": {
                    "type": "string",
                    "maxLength": 32,
                    "description": "How the order will be paid: one of the methods the shop "
                    "offers this customer (cod, bank_transfer, raast, jazzcash, easypaisa as "
                    "set up); default the first. It decides when the order goes to production.",
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
