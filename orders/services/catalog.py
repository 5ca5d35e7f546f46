"""Designs and prices: validated configurations (deduplicated by hash) and quotes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import configurator
from configurator.pricebook import pricebook
from orders.errors import InvalidConfiguration, UnknownFamily
from orders.models import ProductConfiguration, Quote


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


def save_configuration(
    session: Session, family_key: str, raw: Mapping[str, Any], user_id: int | None = None
) -> ProductConfiguration:
    """Validate and store a design; the same design (same hash) returns the existing row."""
    config = validate_or_raise(family_key, raw)
    digest = config.config_hash
    row = session.scalar(
        select(ProductConfiguration).where(ProductConfiguration.config_hash == digest)
    )
    if row is not None:
        return row
    row = ProductConfiguration(
        family_key=config.family_key,
        family_version=config.family_version,
        params_json=config.canonical_json(),
        config_hash=digest,
        created_by_id=user_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent request stored the same design first
        return session.scalars(
            select(ProductConfiguration).where(ProductConfiguration.config_hash == digest)
        ).one()
    return row


def load_config(row: ProductConfiguration) -> configurator.Configuration:
    return configurator.Configuration.from_canonical_json(row.params_json)


def price_line(
    session: Session,
    row: ProductConfiguration,
    quantity: int,
    tier: str,
    customer_id: int | None,
    currency: str,
    now: datetime | None = None,
) -> Quote:
    """Quote one line with the configurator and keep the itemised result."""
    from orders.services.capacity import metrics_for, promise_for

    config = load_config(row)
    result = configurator.quote(
        config, quantity, tier, metrics_for(session, row), currency=currency
    )
    promised = promise_for(session, config, quantity, tier, now or datetime.now(UTC))
    quote = Quote(
        configuration_id=row.id,
        customer_id=customer_id,
        quantity=quantity,
        tier=tier,
        currency=currency,
        unit_price=result.unit_price.quantize(Decimal("0.01")),
        total=result.total.quantize(Decimal("0.01")),
        lines=quote_body(result),
        source=result.source,
        promised_ship_date=promised,
    )
    session.add(quote)
    session.flush()
    return quote


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
