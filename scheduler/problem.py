"""The scheduling problem as plain, self-validating dataclasses.

Time is integer minutes from the problem's origin. ``Problem.origin`` is only for display.
Structural mistakes (wrong types, duplicate ids, unknown references, inverted windows) raise
``ProblemError`` at construction because they are programmer mistakes in a builder. Semantic
issues that come from user data (a precedence cycle, an operation with no eligible machine, a
non-positive duration, windows that leave no room) are reported by ``diagnostics.diagnose`` and
returned inside a ``SolveResult`` so that a planner sees a message, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType


class ProblemError(ValueError):
    """A structurally malformed problem: names the field and the rule broken."""

    def __init__(self, field_name: str, rule: str) -> None:
        super().__init__(f"{field_name}: {rule}")
        self.field = field_name
        self.rule = rule


def _check_int(name: str, value: object, minimum: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProblemError(name, f"must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ProblemError(name, f"must be >= {minimum}, got {value}")


def _check_id(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ProblemError(name, "must be a non-empty string")


@dataclass(frozen=True)
class FrozenAssignment:
    """An operation already started or pinned by the planner: machine and start are fixed.

    `running`: work the floor has started (its start may lie before now). What came before it
    on its route, and its changeover, are then facts, not constraints; a pin keeps both."""

    machine_id: str
    start: int
    running: bool = False

    def __post_init__(self) -> None:
        _check_id("frozen.machine_id", self.machine_id)
        _check_int("frozen.start", self.start)


@dataclass(frozen=True)
class Operation:
    """One routing step. ``eligible`` maps machine id -> duration in minutes on that machine.

    ``after`` lists extra predecessor operation ids (any job) on top of the job's route order.
    """

    id: str
    job_id: str
    eligible: Mapping[str, int]
    setup_family: str | None = None
    frozen: FrozenAssignment | None = None
    after: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_id("operation.id", self.id)
        _check_id(f"operation[{self.id}].job_id", self.job_id)
        if not isinstance(self.eligible, Mapping):
            raise ProblemError(f"operation[{self.id}].eligible", "must be a mapping")
        for m, d in self.eligible.items():
            _check_id(f"operation[{self.id}].eligible key", m)
            _check_int(f"operation[{self.id}].eligible[{m}]", d)
        object.__setattr__(self, "eligible", MappingProxyType(dict(self.eligible)))
        object.__setattr__(self, "after", tuple(self.after))
        if self.frozen is not None:
            if not isinstance(self.frozen, FrozenAssignment):
                raise ProblemError(f"operation[{self.id}].frozen", "must be a FrozenAssignment")
            if self.frozen.machine_id not in self.eligible:
                raise ProblemError(
                    f"operation[{self.id}].frozen.machine_id",
                    f"machine {self.frozen.machine_id!r} is not eligible for this operation",
                )

    def duration_on(self, machine_id: str) -> int:
        return self.eligible[machine_id]

    @property
    def min_duration(self) -> int:
        return min(self.eligible.values(), default=0)


@dataclass(frozen=True)
class Job:
    """One order line or plate. Operations run in the listed (route) order.

    ``due`` is soft (tardiness is an objective); ``deadline`` is a hard latest end.
    """

    id: str
    operations: tuple[Operation, ...]
    release: int = 0
    due: int | None = None
    weight: int = 1
    priority: int = 0
    deadline: int | None = None

    def __post_init__(self) -> None:
        _check_id("job.id", self.id)
        if self.deadline is not None:
            _check_int(f"job[{self.id}].deadline", self.deadline, 1)
        object.__setattr__(self, "operations", tuple(self.operations))
        _check_int(f"job[{self.id}].release", self.release, 0)
        if self.due is not None:
            _check_int(f"job[{self.id}].due", self.due)
        _check_int(f"job[{self.id}].weight", self.weight, 0)
        _check_int(f"job[{self.id}].priority", self.priority)
        for op in self.operations:
            if not isinstance(op, Operation):
                raise ProblemError(f"job[{self.id}].operations", "must hold Operation values")
            if op.job_id != self.id:
                raise ProblemError(
                    f"operation[{op.id}].job_id", f"is {op.job_id!r} but listed in job {self.id!r}"
                )


@dataclass(frozen=True)
class Window:
    """A half-open unavailability window [start, end): maintenance, downtime, off shift."""

    start: int
    end: int
    reason: str = "unavailable"

    def __post_init__(self) -> None:
        _check_int("window.start", self.start)
        _check_int("window.end", self.end)
        if self.end <= self.start:
            raise ProblemError("window", f"end {self.end} must be after start {self.start}")


@dataclass(frozen=True)
class Machine:
    """A resource with a calendar of unavailability windows (sorted, merged on construction)."""

    id: str
    calendar: tuple[Window, ...] = ()
    initial_family: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        _check_id("machine.id", self.id)
        for w in self.calendar:
            if not isinstance(w, Window):
                raise ProblemError(f"machine[{self.id}].calendar", "must hold Window values")
        object.__setattr__(self, "calendar", _merge(self.calendar))


def _merge(windows: tuple[Window, ...] | list[Window]) -> tuple[Window, ...]:
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: (w.start, w.end)):
        if out and w.start <= out[-1].end:
            last = out[-1]
            reason = last.reason if last.reason == w.reason else f"{last.reason}+{w.reason}"
            out[-1] = Window(last.start, max(last.end, w.end), reason)
        else:
            out.append(w)
    return tuple(out)


@dataclass(frozen=True)
class SetupMatrix:
    """Sequence-dependent changeover minutes on one machine: ``times[from][to]``.

    Missing pairs mean no setup; a ``None`` family (no setup class) never needs a setup.
    A setup is a gap between two consecutive operations on the machine (the later one starts
    at least ``times[a][b]`` after the earlier one ends); it may overlap calendar downtime,
    the operations themselves may not.
    """

    machine_id: str
    times: Mapping[str, Mapping[str, int]]

    def __post_init__(self) -> None:
        _check_id("setup.machine_id", self.machine_id)
        frozen: dict[str, Mapping[str, int]] = {}
        for a, row in self.times.items():
            for b, t in row.items():
                _check_int(f"setup[{self.machine_id}][{a}][{b}]", t, 0)
            frozen[a] = MappingProxyType(dict(row))
        object.__setattr__(self, "times", MappingProxyType(frozen))

    def time(self, a: str | None, b: str | None) -> int:
        if a is None or b is None:
            return 0
        return self.times.get(a, {}).get(b, 0)


@dataclass(frozen=True)
class PowerLimit:
    """Machines one backup source (a UPS or generator) carries during outages.

    While the source carries them (``windows``), their operations together draw at most
    ``capacity`` (any whole unit, e.g. watts; ``draws`` per machine, in the same unit). Outside
    the windows the grid carries everything and the limit does not apply.
    """

    id: str
    capacity: int
    draws: Mapping[str, int]
    windows: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        _check_id("power.id", self.id)
        _check_int(f"power[{self.id}].capacity", self.capacity, 1)
        for mid, draw in self.draws.items():
            _check_int(f"power[{self.id}].draws[{mid}]", draw, 0)
        object.__setattr__(self, "draws", MappingProxyType(dict(self.draws)))
        object.__setattr__(self, "windows", _merge(tuple(self.windows)))


@dataclass(frozen=True)
class Problem:
    """Jobs, machines and setup matrices. ``now``: no unfrozen operation may start before it."""

    jobs: tuple[Job, ...]
    machines: tuple[Machine, ...]
    setups: Mapping[str, SetupMatrix] = field(default_factory=dict)
    horizon: int | None = None
    now: int = 0
    origin: datetime | None = None
    name: str = ""
    power: tuple[PowerLimit, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "jobs", tuple(self.jobs))
        object.__setattr__(self, "power", tuple(self.power))
        object.__setattr__(self, "machines", tuple(self.machines))
        if isinstance(self.setups, list | tuple):
            object.__setattr__(self, "setups", {s.machine_id: s for s in self.setups})
        object.__setattr__(self, "setups", MappingProxyType(dict(self.setups)))
        _check_int("problem.now", self.now, 0)
        if self.horizon is not None:
            _check_int("problem.horizon", self.horizon, 1)
        _unique("job", [j.id for j in self.jobs])
        _unique("machine", [m.id for m in self.machines])
        _unique("operation", [o.id for j in self.jobs for o in j.operations])
        machine_ids = {m.id for m in self.machines}
        op_ids = {o.id for j in self.jobs for o in j.operations}
        for mid, matrix in self.setups.items():
            if mid not in machine_ids or matrix.machine_id != mid:
                raise ProblemError(f"setups[{mid}]", "must key a known machine by its own id")
        _unique("power", [p.id for p in self.power])
        _unique("power machine", [mid for p in self.power for mid in p.draws])
        for limit in self.power:
            for mid in limit.draws:
                if mid not in machine_ids:
                    raise ProblemError(f"power[{limit.id}].draws", f"unknown machine {mid!r}")
        for j in self.jobs:
            for o in j.operations:
                for p in o.after:
                    if p not in op_ids:
                        raise ProblemError(f"operation[{o.id}].after", f"unknown op {p!r}")

    # -- lookups (cheap, rebuilt on demand; problems are immutable) --
    @property
    def operations(self) -> list[Operation]:
        return [o for j in self.jobs for o in j.operations]

    def op_index(self) -> dict[str, Operation]:
        return {o.id: o for j in self.jobs for o in j.operations}

    def job_index(self) -> dict[str, Job]:
        return {j.id: j for j in self.jobs}

    def machine_index(self) -> dict[str, Machine]:
        return {m.id: m for m in self.machines}

    def setup_time(self, machine_id: str, a: str | None, b: str | None) -> int:
        matrix = self.setups.get(machine_id)
        return 0 if matrix is None else matrix.time(a, b)

    def predecessors(self) -> dict[str, list[str]]:
        """Route order plus explicit ``after`` links, as op id -> predecessor op ids."""
        preds: dict[str, list[str]] = {}
        for j in self.jobs:
            prev: str | None = None
            for o in j.operations:
                preds[o.id] = ([prev] if prev else []) + [p for p in o.after if p != prev]
                prev = o.id
        return preds

    def has_setups(self) -> bool:
        return any(
            t for s in self.setups.values() for row in s.times.values() for t in row.values()
        )


def _unique(kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ProblemError(f"{kind}.id", f"duplicate id {i!r}")
        seen.add(i)
