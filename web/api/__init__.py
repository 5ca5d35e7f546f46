"""The JSON API: everything the shop pages do, for the pages' JS and for machine clients."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from web.api import docs, views  # noqa: E402,F401  (register the views)
