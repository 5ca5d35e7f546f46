"""Delivery promises: the scheduler's capable-to-promise over the released plan, or the configurator's capacity estimate before a plan is released."""

from __future__ import annotations

import threading
from datetime import date, datetime
from time import monotonic
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import configurator
from orders.models import (
    Machine,
)
from orders.queries.floor_learning import time_correction
from orders.queries.planning_problem import at_minute, build_problem
from orders.queries.plans import current_release, released_plan
from orders.queries.routing import eligible_minutes, setup_family
from orders.queries.shop_state import shop_load, shop_timezone, to_spec
from orders.shop import shop_numbers
from scheduler.problem import Job
from scheduler.problem import Operation as SOp
from scheduler.promise import promise as ctp_promise

_books: dict[tuple[str, int], tuple[float, Any]] = {}


_books_lock = threading.Lock()


def _released_book(session: Session, now: datetime) -> tuple[Any, Any, list[Machine]] | None:
    """The open order book as a scheduling problem with the released plan over it, rebuilt at
    most every `promise_book_seconds` (data/shop.toml) per database and release: every quote and order line asks for it, and
    building it costs time in proportion to the open operations."""

    release = current_release(session)
    if release is None:
        return None
    key = (str(session.get_bind().engine.url), release.version)
    hit = _books.get(key)
    if hit is not None and monotonic() - hit[0] < shop_numbers().promise_book_seconds:
        return hit[1]
    pp = build_problem(session, now)
    plan = released_plan(session, pp)
    book = (pp, plan, list(session.scalars(select(Machine)))) if plan and plan.assignments else None
    with _books_lock:
        if len(_books) > 64:
            _books.clear()
        _books[key] = (monotonic(), book)
    return book


def promise_for(
    session: Session,
    config: configurator.Configuration,
    qty: int,
    tier: str,
    now: datetime,
    metrics: configurator.GeometryMetrics | None = None,
) -> date | None:
    """Earliest ship date in the shop's time zone; None if nothing fits.

    With a released plan, the scheduler's capable-to-promise slots the order into it without
    moving committed work; otherwise a capacity estimate over the machine calendars is used.
    Measured geometry (`metrics`, once CAD has run) sizes the run time as the live quote's does.
    Either way the run time is corrected by what the floor learned (`time_correction`, as
    the live quote does), so the date does not assume minutes the machines never keep.
    """
    local_now = now.astimezone(shop_timezone(session))
    ctp = capable_to_promise(session, now)
    learned = time_correction(session, config.family_key, str(config.values["process"]))
    result = configurator.promise(
        config,
        qty,
        tier,
        shop_load(session),
        local_now,
        ctp=ctp,
        metrics=metrics,
        time_factor=learned.factor,
    )
    return result.ship_date if result.ok else None


def capable_to_promise(session: Session, now: datetime) -> configurator.CapableToPromise | None:
    """The scheduler's CTP over the released plan, as the configurator's `ctp` seam."""

    found = _released_book(session, now)
    if found is None:
        return None
    pp, plan, machines = found

    def ctp(req: configurator.PromiseRequest) -> datetime | None:
        ops = []
        for i, step in enumerate(req.routing):
            bbox = step.requirements.get("bbox_mm")
            fits = {m.id: to_spec(m).fits(tuple(bbox)) for m in machines} if bbox else {}
            eligible = eligible_minutes(step, req.qty, machines, fits)
            ops.append(SOp(f"new{i}", "new", eligible, setup_family(step)))
        result = ctp_promise(pp.problem, plan, Job("new", tuple(ops)))
        return at_minute(pp.origin, result.completion) if result.ok and result.completion else None

    return ctp
