"""Backup power during outages: the load a plan puts on each UPS or generator, over time.

One sweep serves the checker (``power_violations``) and the dispatch heuristic
(``PowerLedger``, which finds the next start that keeps a backup under its capacity).
"""

from __future__ import annotations

from collections.abc import Iterable

from .problem import PowerLimit, Problem
from .schedule import Assignment


def peak(bookings: Iterable[tuple[int, int, int]], lo: int, hi: int) -> tuple[int, int]:
    """The highest total draw of (start, end, draw) bookings within [lo, hi), and when."""
    events: list[tuple[int, int]] = []
    for s, e, draw in bookings:
        a, b = max(s, lo), min(e, hi)
        if a < b and draw:
            events += [(a, draw), (b, -draw)]
    load = best = 0
    when = lo
    for t, delta in sorted(events, key=lambda ev: (ev[0], ev[1])):
        load += delta
        if load > best:
            best, when = load, t
    return best, when


def frozen_bookings(problem: Problem, limit: PowerLimit) -> list[tuple[int, int, int]]:
    """Work already running or fixed on this backup's machines: (start, end, draw)."""
    return [
        (o.frozen.start, o.frozen.start + o.eligible[o.frozen.machine_id], draw)
        for o in problem.operations
        if o.frozen is not None and (draw := limit.draws.get(o.frozen.machine_id)) is not None
    ]


def capacities(problem: Problem, limit: PowerLimit) -> list[tuple[int, int, int]]:
    """(start, end, capacity) per window. Work already fixed on the backup may exceed its
    capacity (an outage announced after the jobs started): then that load is the window's
    capacity, so a plan stays possible and nothing new is added on top."""
    fixed = frozen_bookings(problem, limit)
    return [
        (w.start, w.end, max(limit.capacity, peak(fixed, w.start, w.end)[0])) for w in limit.windows
    ]


class PowerLedger:
    """What each backup already carries; ``next_start`` moves a candidate start later until the
    operation fits under every backup's capacity during the backup's windows."""

    def __init__(self, problem: Problem) -> None:
        self.limit_of: dict[str, PowerLimit] = {
            mid: limit for limit in problem.power for mid in limit.draws
        }
        self.booked: dict[str, list[tuple[int, int, int]]] = {p.id: [] for p in problem.power}
        self.windows = {p.id: capacities(problem, p) for p in problem.power}

    def book(self, machine_id: str, start: int, end: int) -> None:
        limit = self.limit_of.get(machine_id)
        if limit is not None:
            self.booked[limit.id].append((start, end, limit.draws[machine_id]))

    def conflict(self, machine_id: str, start: int, end: int) -> int | None:
        """None when [start, end) fits; otherwise a later time worth trying instead."""
        limit = self.limit_of.get(machine_id)
        if limit is None:
            return None
        draw = limit.draws[machine_id]
        for w_start, w_end, capacity in self.windows[limit.id]:
            lo, hi = max(start, w_start), min(end, w_end)
            if lo >= hi:
                continue
            if draw > capacity:
                return w_end  # more than the backup gives: never during this window
            load, when = peak(self.booked[limit.id], lo, hi)
            if load + draw > capacity:
                ends = [e for s, e, _ in self.booked[limit.id] if s <= when < e]
                return max(start + 1, min(ends, default=w_end))
        return None


def power_violations(problem: Problem, assignments: Iterable[Assignment]) -> list[str]:
    """One message per backup window where the plan draws more than the backup gives."""
    by_machine: dict[str, list[Assignment]] = {}
    for a in assignments:
        by_machine.setdefault(a.machine_id, []).append(a)
    out = []
    for limit in problem.power:
        bookings = [
            (a.start, a.end, draw)
            for mid, draw in limit.draws.items()
            for a in by_machine.get(mid, ())
        ]
        for w_start, w_end, capacity in capacities(problem, limit):
            load, when = peak(bookings, w_start, w_end)
            if load > capacity:
                out.append(
                    f"{limit.id} carries {load} at {when}, more than its {capacity}"
                    f" during [{w_start},{w_end})"
                )
    return out
