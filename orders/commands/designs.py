"""Designs stored and priced: a configuration row per config hash, a quote row per priced line."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import configurator
from orders.models import ProductConfiguration, Quote
from orders.queries.catalog import load_config, quote_body, validate_or_raise
from orders.queries.designs import Viewer
from orders.queries.floor_learning import time_correction
from orders.queries.promise import promise_for
from orders.queries.shop_state import metrics_for


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


def price_line(
    session: Session,
    row: ProductConfiguration,
    quantity: int,
    tier: str,
    customer_id: int | None,
    currency: str,
    now: datetime | None = None,
) -> Quote:
    """Quote one line with the configurator and keep the itemised result: the same measured
    geometry and learned run-time factor as the live quote the customer saw, so the price an
    order keeps is the price shown."""

    config = load_config(row)
    metrics = metrics_for(session, row)
    learned = time_correction(session, config.family_key, str(config.values["process"]))
    result = configurator.quote(
        config, quantity, tier, metrics, currency=currency, time_factor=learned.factor
    )
    promised = promise_for(session, config, quantity, tier, now or datetime.now(UTC), metrics)
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


def save_design(
    session: Session, viewer: Viewer, family_key: str, raw: Mapping[str, Any], currency: str
) -> ProductConfiguration:
    """Store the design and a quote for this customer, which is what makes the design theirs."""
    row = save_configuration(session, family_key, raw, viewer.id)
    quoted = session.scalar(
        select(Quote.id)
        .where(Quote.configuration_id == row.id, Quote.customer_id == viewer.id)
        .limit(1)
    )
    if quoted is None:  # saving the same design again adds nothing
        price_line(session, row, 1, "standard", viewer.id, currency)
    return row
