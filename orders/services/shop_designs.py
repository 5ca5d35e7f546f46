"""Web-facing design queries: who may see a design, live quotes without writes, feasibility.

A design row is shared by every customer who configures the same parameters (it is keyed by
its config hash), so "mine" means: I created it, I was quoted for it, or I ordered it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import configurator
from orders.errors import DomainError, NotFound
from orders.models import Artifact, Order, OrderLine, ProductConfiguration, Quote, Role
from orders.services.capacity import machine_specs, metrics_for, shop_load, shop_timezone
from orders.services.catalog import load_config, price_line, quote_body, save_configuration, tiers

STAFF = frozenset({Role.PLANNER, Role.OPERATOR, Role.ADMIN})
MAX_QTY = 10_000
SNAPSHOT_TTL_S = 5.0  # live quotes may see shop load up to this old; orders re-price fresh


@dataclass(frozen=True)
class ShopSnapshot:
    """Machines, load and time zone: what every live quote reads, cached briefly per process."""

    machines: list[configurator.MachineSpec]
    load: configurator.ShopLoad
    tz: ZoneInfo
    taken_at: float


_snapshots: dict[str, ShopSnapshot] = {}
_snapshot_lock = threading.Lock()
_quotes: dict[tuple[str, str, int, str, str], tuple[float, dict[str, Any]]] = {}
MAX_CACHED_QUOTES = 4096


class Viewer(Protocol):
    """What the checks need from a signed-in user (a User row or the web's session user)."""

    id: int
    role: str


@dataclass(frozen=True)
class LiveQuote:
    """A quote computed for display: nothing is written, so it is cheap to repeat per keystroke."""

    config: configurator.Configuration
    quote: configurator.Quote
    feasibility: configurator.Feasibility
    promise: configurator.Promise
    configuration_id: int | None

    @property
    def orderable(self) -> bool:
        return self.feasibility.ok and self.promise.ok


def can_see_design(session: Session, viewer: Viewer | None, configuration_id: int) -> bool:
    if viewer is None:
        return False
    if viewer.role in STAFF:
        return True
    row = session.get(ProductConfiguration, configuration_id)
    if row is None:
        return False
    if row.created_by_id == viewer.id:
        return True
    quoted = session.scalar(
        select(Quote.id)
        .where(Quote.configuration_id == configuration_id, Quote.customer_id == viewer.id)
        .limit(1)
    )
    if quoted is not None:
        return True
    ordered = session.scalar(
        select(OrderLine.id)
        .join(Order)
        .where(OrderLine.configuration_id == configuration_id, Order.customer_id == viewer.id)
        .limit(1)
    )
    return ordered is not None


def get_design(
    session: Session, viewer: Viewer | None, configuration_id: int
) -> ProductConfiguration:
    """The design if this viewer may see it; someone else's design is simply not found."""
    if not can_see_design(session, viewer, configuration_id):
        raise NotFound(f"configuration {configuration_id} not found")
    return session.get_one(ProductConfiguration, configuration_id)


def check_quantity_tier(quantity: object, tier: object) -> tuple[int, str]:
    """Bad quantity or tier is user input: a DomainError naming the field and the rule."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QTY:
        raise DomainError(
            f"quantity must be a whole number from 1 to {MAX_QTY}",
            fields={"quantity": f"whole number 1–{MAX_QTY}"},
        )
    if tier not in tiers():
        raise DomainError(
            f"unknown lead-time tier {tier!r}", fields={"tier": f"one of {', '.join(tiers())}"}
        )
    return quantity, str(tier)


def live_quote(
    session: Session,
    config: configurator.Configuration,
    quantity: int,
    tier: str,
    currency: str,
    now: datetime | None = None,
) -> LiveQuote:
    """Price, feasibility and promised date; measured geometry is used once CAD has run."""
    row = session.scalar(
        select(ProductConfiguration).where(ProductConfiguration.config_hash == config.config_hash)
    )
    metrics = metrics_for(session, row) if row is not None else None
    shop = shop_snapshot(session)
    q = configurator.quote(config, quantity, tier, metrics, currency=currency)
    feas = configurator.feasible(config, shop.machines, quantity)
    local_now = (now or datetime.now(UTC)).astimezone(shop.tz)
    prom = configurator.promise(config, quantity, tier, shop.load, local_now, metrics=metrics)
    return LiveQuote(config, q, feas, prom, row.id if row is not None else None)


def shop_snapshot(session: Session, max_age_s: float = SNAPSHOT_TTL_S) -> ShopSnapshot:
    """The shop's machines and load, re-read at most every `max_age_s` seconds per database."""
    key = str(session.get_bind().engine.url)
    now = time.monotonic()
    snap = _snapshots.get(key)
    if snap is not None and now - snap.taken_at < max_age_s:
        return snap
    snap = ShopSnapshot(machine_specs(session), shop_load(session), shop_timezone(session), now)
    with _snapshot_lock:
        _snapshots[key] = snap
    return snap


def cached_quote_json(
    session: Session, config: configurator.Configuration, quantity: int, tier: str, currency: str
) -> dict[str, Any]:
    """`live_quote_json` memoised for SNAPSHOT_TTL_S: a customer nudging a slider, or many
    asking for the same design, costs one computation. A fresh CAD measurement shows up
    within the TTL (the page re-asks until the source says "measured")."""
    key = (str(session.get_bind().engine.url), config.config_hash, quantity, tier, currency)
    now = time.monotonic()
    hit = _quotes.get(key)
    if hit is not None and now - hit[0] < SNAPSHOT_TTL_S:
        return hit[1]
    body = live_quote_json(live_quote(session, config, quantity, tier, currency))
    with _snapshot_lock:
        if len(_quotes) >= MAX_CACHED_QUOTES:
            _quotes.clear()
        _quotes[key] = (now, body)
    return body


def live_quote_json(lq: LiveQuote) -> dict[str, Any]:
    q = lq.quote
    return {
        "family": q.family_key,
        "config_hash": q.config_hash,
        "quantity": q.qty,
        "tier": q.tier,
        "currency": q.currency,
        "unit_price": str(q.unit_price),
        "total": str(q.total),
        "source": q.source,
        **{k: v for k, v in quote_body(q).items() if k != "source"},
        "promise": {
            "ok": lq.promise.ok,
            "ship_date": _iso(lq.promise.ship_date),
            "method": lq.promise.method,
            "reasons": list(lq.promise.reasons),
        },
        "feasibility": feasibility_json(lq.feasibility),
        "orderable": lq.orderable,
        "configuration_id": lq.configuration_id,
    }


def feasibility_json(f: configurator.Feasibility) -> dict[str, Any]:
    return {
        "ok": f.ok,
        "machine_ids": list(f.machine_ids),
        "reasons": [
            {
                "param": r.param,
                "code": r.code,
                "message": r.message,
                "machine_id": r.machine_id,
                "dimension": r.dimension,
            }
            for r in f.reasons
        ],
    }


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def save_design(
    session: Session, viewer: Viewer, family_key: str, raw: Mapping[str, Any], currency: str
) -> ProductConfiguration:
    """Store the design and a quote for this customer, which is what makes the design theirs."""
    row = save_configuration(session, family_key, raw, viewer.id)
    price_line(session, row, 1, "standard", viewer.id, currency)
    return row


def design_params(row: ProductConfiguration) -> dict[str, Any]:
    return dict(load_config(row).values)


def design_artifact_path(
    session: Session, viewer: Viewer | None, artifact_id: int, root: Path
) -> tuple[Path, str]:
    """(absolute path, kind) of a stored file of a design the viewer may see; else NotFound."""
    art = session.get(Artifact, artifact_id)
    if art is None or not can_see_design(session, viewer, art.configuration_id):
        raise NotFound(f"artifact {artifact_id} not found")
    path = (root / art.path).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise NotFound(f"artifact {artifact_id} is not available")
    return path, art.kind
