"""Web-facing design queries: who may see a design, live quotes without writes, feasibility.

A design row is shared by every customer who configures the same parameters (it is keyed by
its config hash), so "mine" means: I created it, I was quoted for it, or I ordered it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import configurator
from orders.errors import NotFound
from orders.models import STAFF, Artifact, Order, OrderLine, ProductConfiguration, Quote
from orders.queries.catalog import load_config, quote_body
from orders.queries.floor_learning import time_correction
from orders.queries.shop_state import machine_specs, metrics_for, shop_load, shop_timezone
from orders.shop import shop_numbers


@dataclass(frozen=True)
class ShopSnapshot:
    """Machines, load and time zone: what every live quote reads, cached briefly per process."""

    machines: list[configurator.MachineSpec]
    load: configurator.ShopLoad
    tz: ZoneInfo
    taken_at: float


_snapshots: dict[str, ShopSnapshot] = {}
_snapshot_lock = threading.Lock()
_quotes: dict[tuple[str, str, int, str, str, bool], tuple[float, dict[str, Any]]] = {}
MAX_CACHED_QUOTES = 4096


class Viewer(Protocol):
    """What the checks need from a signed-in user (a User row or the web's session user).

    Read-only members, so a frozen dataclass or an ORM row (whose `role` is a `Role`) matches.
    """

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class LiveQuote:
    """A quote computed for display: nothing is written, so it is cheap to repeat per keystroke.

    `blocking` holds the Required DFM findings CAD measured on this design (code, hint, ...):
    a design with one cannot be made as drawn, exactly like one no machine fits.
    """

    config: configurator.Configuration
    quote: configurator.Quote
    feasibility: configurator.Feasibility
    promise: configurator.Promise
    configuration_id: int | None
    blocking: tuple[dict[str, Any], ...] = ()

    @property
    def makeable(self) -> bool:
        return self.feasibility.ok and not self.blocking

    @property
    def orderable(self) -> bool:
        return self.makeable and self.promise.ok

    def reasons(self) -> list[dict[str, Any]]:
        """Why it cannot be made: feasibility's reasons, then the Required DFM findings."""
        out: list[dict[str, Any]] = [
            {"source": "feasibility", "code": r.code, "message": r.message, "param": r.param}
            for r in self.feasibility.reasons
        ]
        out += [
            {"source": "dfm", "code": str(f.get("code")), "message": finding_text(f), "param": None}
            for f in self.blocking
        ]
        return out


def finding_text(finding: dict[str, Any]) -> str:
    """A measured finding in plain words, with what was measured against the limit."""
    hint = str(finding.get("hint") or finding.get("message") or "")
    measured, limit = finding.get("measured"), finding.get("threshold")
    unit = finding.get("unit") or "mm"
    if isinstance(measured, int | float) and isinstance(limit, int | float) and unit == "mm":
        return f"{hint} (measured {measured:.2f} mm, limit {limit:.2f} mm)"
    return hint


def required_findings(session: Session, row: ProductConfiguration) -> tuple[dict[str, Any], ...]:
    """The Required DFM findings recorded with the design's newest analysis (STEP summary)."""
    meta = session.scalar(
        select(Artifact.meta)
        .where(Artifact.configuration_id == row.id, Artifact.kind == "step")
        .order_by(Artifact.id.desc())
        .limit(1)
    )
    found = (meta or {}).get("findings", [])
    return tuple(f for f in found if isinstance(f, dict) and f.get("severity") == "required")


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


def live_quote(
    session: Session,
    config: configurator.Configuration,
    quantity: int,
    tier: str,
    currency: str,
    now: datetime | None = None,
    *,
    viewer: Viewer | None = None,
) -> LiveQuote:
    """Price, feasibility and promised date; measured geometry is used once CAD has run.

    Only for a viewer who may see the stored design: to anyone else a design someone saved is
    quoted like a new one, so a quote never tells whether (or what) another customer saved.
    """
    row = _visible_row(session, config.config_hash, viewer)
    metrics = metrics_for(session, row) if row is not None else None
    shop = shop_snapshot(session)
    learned = time_correction(session, config.family_key, str(config.values["process"]))
    q = configurator.quote(
        config, quantity, tier, metrics, currency=currency, time_factor=learned.factor
    )
    feas = configurator.feasible(config, shop.machines, quantity)
    local_now = (now or datetime.now(UTC)).astimezone(shop.tz)
    prom = configurator.promise(
        config, quantity, tier, shop.load, local_now, metrics=metrics, time_factor=learned.factor
    )
    blocking = required_findings(session, row) if row is not None else ()
    return LiveQuote(config, q, feas, prom, row.id if row is not None else None, blocking)


def makeable(session: Session, config: configurator.Configuration) -> configurator.Feasibility:
    """Can some machine of this shop make one of this design (process, material, envelope)?

    The same check (and the same reasons) as a live quote's feasibility for quantity 1, on the
    machines as they are now: the gate before any CAD build is asked for.
    """
    return configurator.feasible(config, machine_specs(session), 1)


def _visible_row(
    session: Session, config_hash: str, viewer: Viewer | None
) -> ProductConfiguration | None:
    row = session.scalar(
        select(ProductConfiguration).where(ProductConfiguration.config_hash == config_hash)
    )
    if row is None or not can_see_design(session, viewer, row.id):
        return None
    return row


def shop_snapshot(session: Session, max_age_s: float | None = None) -> ShopSnapshot:
    """The shop's machines and load, re-read at most every `max_age_s` seconds per database."""
    if max_age_s is None:
        max_age_s = shop_numbers().quote_snapshot_seconds
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
    session: Session,
    config: configurator.Configuration,
    quantity: int,
    tier: str,
    currency: str,
    *,
    viewer: Viewer | None = None,
) -> dict[str, Any]:
    """`live_quote_json` memoised for shop_numbers().quote_snapshot_seconds: a customer nudging a slider, or many
    asking for the same design, costs one computation. A fresh CAD measurement shows up
    within the TTL (the page re-asks until the source says "measured")."""
    visible = _visible_row(session, config.config_hash, viewer)
    key = (
        str(session.get_bind().engine.url),
        config.config_hash,
        quantity,
        tier,
        currency,
        visible is not None,
    )
    now = time.monotonic()
    hit = _quotes.get(key)
    if hit is not None and now - hit[0] < shop_numbers().quote_snapshot_seconds:
        return hit[1]
    body = live_quote_json(live_quote(session, config, quantity, tier, currency, viewer=viewer))
    with _snapshot_lock:
        if len(_quotes) >= MAX_CACHED_QUOTES:
            _quotes.clear()
        _quotes[key] = (now, body)
    return body


def live_quote_json(lq: LiveQuote) -> dict[str, Any]:
    """The quote as the page and API show it. A design that cannot be made has no price and
    no date: the keys stay (clients read one shape) but hold null, an empty item list and
    `makeable: false` with the reasons."""
    q = lq.quote
    made = lq.makeable
    reasons = lq.reasons()
    return {
        "family": q.family_key,
        "config_hash": q.config_hash,
        "quantity": q.qty,
        "tier": q.tier,
        "currency": q.currency,
        "unit_price": str(q.unit_price) if made else None,
        "total": str(q.total) if made else None,
        "source": q.source,
        **{k: v for k, v in quote_body(q).items() if k != "source"},
        **({} if made else {"lines": []}),
        "promise": {
            "ok": lq.promise.ok and made,
            "ship_date": _iso(lq.promise.ship_date) if made else None,
            "method": lq.promise.method,
            "reasons": list(lq.promise.reasons)
            if made
            else ["it cannot be made: " + "; ".join(r["message"] for r in reasons)],
        },
        "feasibility": feasibility_json(lq.feasibility),
        "makeable": made,
        "reasons": reasons,
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
        raise NotFound(f"artifact {artifact_id} not found")
    return path, art.kind
