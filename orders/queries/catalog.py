"""Designs and prices: validated configurations (deduplicated by hash) and quotes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import configurator
from configurator.pricebook import pricebook
from orders.errors import DomainError, InvalidConfiguration, UnknownFamily
from orders.models import ProductConfiguration
from orders.shop import shop_numbers


def tiers() -> tuple[str, ...]:
    """Lead-time tiers offered (economy, standard, express), from the configurator's price book."""
    return tuple(pricebook().tiers)


def validate_or_raise(family_key: str, raw: Mapping[str, Any]) -> configurator.Configuration:
    """The configurator's verdict as a value, or a typed error listing every field at fault."""
    result = configurator.validate(family_key, raw)
    if result.ok and result.config is not None:
        return result.config
    if any(e.code == "unknown_family" for e in result.errors):
        raise UnknownFamily(family_key)
    fields = {e.param: e.message for e in result.errors}
    summary = "; ".join(e.message for e in result.errors)
    raise InvalidConfiguration(f"the design is not valid: {summary}", fields=fields)


def load_config(row: ProductConfiguration) -> configurator.Configuration:
    return configurator.Configuration.from_canonical_json(row.params_json)


def quote_body(q: configurator.Quote) -> dict[str, Any]:
    """The itemised quote as JSON-ready data (amounts as strings: money stays exact)."""
    m = q.metrics
    return {
        "lines": [
            {"code": ln.code, "label": ln.label, "amount": str(ln.amount), "detail": ln.detail}
            for ln in q.lines
        ],
        "notes": list(q.notes),
        "source": q.source,
        "metrics": {
            "volume_mm3": m.volume_mm3,
            "area_mm2": m.area_mm2,
            "bbox_mm": list(m.bbox_mm),
            "print_minutes": m.print_minutes,
            "filament_g": m.filament_g,
        },
        "routing": [
            {
                "step": r.step,
                "process": r.process.value,
                "minutes": r.minutes,
                "setup_minutes": r.setup_minutes,
            }
            for r in q.routing
        ],
    }


def valid_quantity(quantity: object) -> bool:
    """A whole number of units within the shop's limit per line (data/shop.toml)."""
    limit = shop_numbers().max_line_quantity
    return isinstance(quantity, int) and not isinstance(quantity, bool) and 1 <= quantity <= limit


def check_quantity_tier(
    quantity: object, tier: object, family_key: str | None = None
) -> tuple[int, str]:
    """Bad quantity or tier is user input: a DomainError naming the field and the rule.

    With the family known, its own `max_qty` applies too (the API document says so per family).
    """
    limit = shop_numbers().max_line_quantity
    if family_key is not None:
        limit = min(limit, configurator.get_family(family_key).max_qty)
    if not valid_quantity(quantity) or not isinstance(quantity, int) or quantity > limit:
        raise DomainError(
            f"quantity must be a whole number from 1 to {limit}",
            fields={"quantity": f"whole number 1–{limit}"},
        )
    if tier not in tiers():
        raise DomainError(
            f"unknown lead-time tier {tier!r}", fields={"tier": f"one of {', '.join(tiers())}"}
        )
    return quantity, str(tier)
