"""OpenAPI 3 description of the API, served at /api/openapi.json and browsable at /api/docs."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Response, jsonify, render_template

from web.api import bp
from web.api.openapi_schemas import schemas
from web.files import INLINE_KINDS

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


RETRY_AFTER = {
    "description": "Seconds until the limit's window resets",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
HASH_PARAM = {
    "name": "config_hash",
    "in": "path",
    "required": True,
    "description": "The design's config hash, as POST /api/preview answered it",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{16,128}$"},
}


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
        if code == "429":
            op["responses"][code]["headers"] = {"Retry-After": RETRY_AFTER}
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
    binary = {"schema": {"type": "string", "format": "binary"}}
    op["responses"]["200"] = {
        "description": "The file: a GLB preview is shown in the page, every other kind is a "
        "download",
        "content": {kind: binary for kind in sorted(set(INLINE_KINDS.values()))}
        | {"application/octet-stream": binary},
    }
    return op


def _anonymous_preview() -> dict[str, Any]:
    """/api/preview: the live 3D preview for anyone, by the design's values and then its hash.

    No credentials are needed (a bearer token or a session may be sent; a cookie session's
    write needs X-CSRFToken). Only a request that stores a new design or starts a build counts
    against the strict per-visitor and shop-wide limits; following a build is a cached read."""
    start = _op(
        "Start (or reuse) the 3D preview of a design, for anyone",
        "Build state; poll GET /api/preview/{config_hash} until ready or failed",
        "PublicPreview",
        body="DesignRequest",
        errors=("400", "401", "404", "413", "422", "429"),
        status="202",
    )
    start["security"] = [{}, {"bearer": []}, {"session": []}]
    state = _op(
        "Where an anonymous preview's build is",
        "Build state",
        "PublicPreview",
        errors=("404", "429"),
    )
    state["parameters"] = [HASH_PARAM]
    model = _op("The anonymous preview's GLB model", "The model", "Error", errors=("404", "429"))
    model["parameters"] = [HASH_PARAM]
    model["responses"]["200"] = {
        "description": "The GLB preview (cached publicly for an hour, with an ETag)",
        "headers": {
            "ETag": {"schema": {"type": "string"}},
            "Cache-Control": {"schema": {"type": "string"}},
        },
        "content": {"model/gltf-binary": {"schema": {"type": "string", "format": "binary"}}},
    }
    model["responses"]["304"] = {"description": "Not modified (If-None-Match matched the ETag)"}
    return {
        "/api/preview": {"post": start},
        "/api/preview/{config_hash}": {"get": state},
        "/api/preview/{config_hash}/model.glb": {"get": model},
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
            "schemas": schemas(),
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
                    "Validate a draft design: every problem named, as a verdict",
                    "Verdict (ok or every error found)",
                    "Validation",
                    body="DesignDraft",
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
            **_anonymous_preview(),
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec())


@bp.get("/docs")
def docs() -> str:
    return render_template("api_docs.html")
