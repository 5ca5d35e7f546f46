"""A machine's booked intervals, with earliest-gap insertion that respects setups and calendars.

Shared by the dispatch heuristic and capable-to-promise: both place operations into gaps of an
existing plan without moving anything already booked.
"""

from __future__ import annotations

import bisect

from .problem import Machine, Problem


class Timeline:
    """Bookings on one machine, kept sorted by start; setup and window lookups precomputed."""

    def __init__(self, machine: Machine, problem: Problem) -> None:
        self.machine = machine
        self.starts: list[int] = []
        self.entries: list[tuple[int, int, str | None, str]] = []
        matrix = problem.setups.get(machine.id)
        self._setup: dict[tuple[str, str], int] = {}
        if matrix is not None:
            self._setup = {
                (a, b): t for a, row in matrix.times.items() for b, t in row.items() if t
            }
        self._win = machine.calendar
        self._win_ends = [w.end for w in machine.calendar]

    def setup(self, a: str | None, b: str | None) -> int:
        if not self._setup or a is None or b is None:
            return 0
        return self._setup.get((a, b), 0)

    def next_fit(self, earliest: int, duration: int) -> int:
        """Earliest start >= earliest avoiding this machine's windows (bisect, then walk)."""
        s = earliest
        i = bisect.bisect_right(self._win_ends, s)
        for w in self._win[i:]:
            if s + duration <= w.start:
                break
            s = max(s, w.end)
        return s

    def fit(self, ready: int, duration: int, family: str | None) -> int:
        """Earliest start >= ready for a new op that fits a gap without disturbing neighbours."""
        entries = self.entries
        prev_end, prev_fam = 0, self.machine.initial_family
        i = max(bisect.bisect_left(self.starts, ready) - 1, 0)
        if i > 0:
            prev_end, prev_fam = entries[i - 1][1], entries[i - 1][2]
        n = len(entries)
        for k in range(i, n + 1):
            s = self.next_fit(max(ready, prev_end + self.setup(prev_fam, family)), duration)
            if k == n:
                return s
            nxt = entries[k]
            if s + duration + self.setup(family, nxt[2]) <= nxt[0]:
                return s
            prev_end, prev_fam = nxt[1], nxt[2]
        raise AssertionError("unreachable")

    def book(self, start: int, end: int, family: str | None, op_id: str) -> None:
        i = bisect.bisect_right(self.starts, start)
        self.starts.insert(i, start)
        self.entries.insert(i, (start, end, family, op_id))


def timelines_from(
    problem: Problem, booked: list[tuple[str, int, int, str]]
) -> dict[str, Timeline]:
    """Timelines per machine pre-loaded with (machine_id, start, end, op_id) bookings."""
    ops = problem.op_index()
    lines = {m.id: Timeline(m, problem) for m in problem.machines}
    for mid, s, e, oid in sorted(booked, key=lambda b: b[1]):
        lines[mid].book(s, e, ops[oid].setup_family if oid in ops else None, oid)
    return lines
