"""promise(): earliest ship date from current shop load.

The default is a capacity estimate: each process works through its booked hours first (FIFO,
its machines in parallel), then this order's steps run in routing order. A capable-to-promise
function (the scheduler's, plugged in by orders/) can replace it through the `ctp` seam.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from configurator.calendar import Shift, add_working_days, advance, next_working_instant
from configurator.model import Configuration, GeometryMetrics, RoutingStep
from configurator.pricebook import PriceBook, pricebook
from configurator.pricing import check_request
from configurator.processes import Process
from configurator.registry import get_family
from configurator.routing import scale_primary


@dataclass(frozen=True)
class ShopLoad:
    """Current load as plain values: committed hours and parallel machines per process."""

    booked_hours: Mapping[Process, float]
    machines: Mapping[Process, int]
    shifts: tuple[Shift, ...]
    holidays: frozenset[date] = field(default_factory=frozenset)
    process_shifts: Mapping[Process, tuple[Shift, ...]] = field(default_factory=dict)

    def shifts_for(self, process: Process) -> tuple[Shift, ...]:
        """A process's own calendar (e.g. printers running 24/7), else the shop calendar."""
        return self.process_shifts.get(process, self.shifts)


@dataclass(frozen=True)
class StepWindow:
    step: str
    process: Process
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PromiseRequest:
    """What a capable-to-promise function receives."""

    family_key: str
    config_hash: str
    qty: int
    tier: str
    routing: tuple[RoutingStep, ...]
    now: datetime


CapableToPromise = Callable[[PromiseRequest], datetime | None]


@dataclass(frozen=True)
class Promise:
    """ok with a ship date, or not ok with reasons (no capacity, beyond the horizon)."""

    ok: bool
    ship_date: date | None
    finish_at: datetime | None
    method: str
    buffer_working_days: int
    steps: tuple[StepWindow, ...] = ()
    reasons: tuple[str, ...] = ()


def _fail(method: str, buffer: int, reason: str) -> Promise:
    return Promise(False, None, None, method, buffer, reasons=(reason,))


def _capacity_plan(
    steps: list[RoutingStep], qty: int, load: ShopLoad, now: datetime
) -> tuple[list[StepWindow], str | None]:
    windows: list[StepWindow] = []
    cursor = now
    for s in steps:
        n = int(load.machines.get(s.process, 0))
        if n <= 0:
            return windows, f"no {s.process.value} capacity in the shop calendar"
        backlog = float(load.booked_hours.get(s.process, 0.0)) / n
        cal = load.shifts_for(s.process)
        free = advance(now, backlog, cal, load.holidays)
        per_machine = (s.setup_minutes + s.minutes * math.ceil(qty / n)) / 60
        start = next_working_instant(max(cursor, free), cal, load.holidays) if free else None
        end = advance(start, per_machine, cal, load.holidays) if start else None
        if start is None or end is None:
            return windows, f"{s.process.value} cannot finish within the planning horizon"
        windows.append(StepWindow(s.step, s.process, start, end))
        cursor = end
    return windows, None


def promise(
    config: Configuration,
    qty: int,
    tier: str,
    load: ShopLoad,
    now: datetime,
    *,
    ctp: CapableToPromise | None = None,
    metrics: GeometryMetrics | None = None,
    book: PriceBook | None = None,
    time_factor: float = 1.0,
) -> Promise:
    """Earliest ship date: finish of the last step plus the tier's buffer in working days.
    ``time_factor`` is the floor's learned correction of run time (see ``quote``)."""
    book = book or pricebook()
    check_request(qty, tier, book)
    buffer = book.tiers[tier].buffer_working_days
    steps = scale_primary(get_family(config.family_key).routing(config, metrics), time_factor)
    if ctp is not None:
        req = PromiseRequest(config.family_key, config.config_hash, qty, tier, tuple(steps), now)
        finish = ctp(req)
        if finish is None:
            return _fail("ctp", buffer, "the scheduler found no slot for this order")
        windows: list[StepWindow] = []
        method = "ctp"
    else:
        windows, why = _capacity_plan(steps, qty, load, now)
        if why:
            return _fail("capacity", buffer, why)
        finish = windows[-1].end
        method = "capacity"
    ship = add_working_days(finish.date(), buffer, load.shifts, load.holidays)
    return Promise(True, ship, finish, method, buffer, tuple(windows))
