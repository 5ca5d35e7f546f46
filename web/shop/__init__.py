"""The customer shop: catalogue, configurator pages, accounts, cart, orders and downloads."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("shop", __name__)

from web.shop import accounts, catalogue, documents, ordering  # noqa: E402,F401  (register the views)
