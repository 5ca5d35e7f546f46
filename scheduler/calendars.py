"""Calendar arithmetic shared by dispatch, promise and diagnostics."""

from __future__ import annotations

from collections.abc import Sequence

from .problem import Problem, Window


def next_fit(windows: Sequence[Window], earliest: int, duration: int) -> int:
    """Earliest start >= ``earliest`` where [start, start+duration) avoids every window.

    ``windows`` must be sorted and merged (``Machine`` guarantees it).
    """
    s = earliest
    for w in windows:
        if w.end <= s:
            continue
        if s + duration <= w.start:
            break
        s = max(s, w.end)
    return s


def overlaps(windows: Sequence[Window], start: int, end: int) -> bool:
    return any(start < w.end and w.start < end for w in windows)


def horizon(problem: Problem) -> int:
    """A safe upper bound on any schedule's end: used when ``Problem.horizon`` is unset.

    Every op at its longest, every setup at its largest, after every fixed point in time,
    plus all calendar downtime and every backup-power window, fits inside it.
    """
    if problem.horizon is not None:
        return problem.horizon
    start = max(
        [problem.now]
        + [j.release for j in problem.jobs]
        + [o.frozen.start + max(o.eligible.values()) for o in problem.operations if o.frozen]
    )
    work = sum(max(o.eligible.values(), default=0) for o in problem.operations)
    max_setup = max(
        (t for s in problem.setups.values() for row in s.times.values() for t in row.values()),
        default=0,
    )
    windows = [w for m in problem.machines for w in m.calendar]
    windows += [w for p in problem.power for w in p.windows]  # backup power may hold work back
    last_window = max((w.end for w in windows), default=0)
    down = sum(w.end - w.start for w in windows)
    n = len(problem.operations)
    return max(start, last_window) + work + n * max_setup + down + 1
