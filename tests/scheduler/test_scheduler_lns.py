"""The window LNS keeps every intermediate plan valid: sub-problems accept the current plan as
a feasible hint, and merged sub-solutions validate on the full problem."""

from __future__ import annotations

import random

import pytest

from scheduler.diagnostics import diagnose, errors
from scheduler.dispatch import dispatch
from scheduler.generate import realistic_shop
from scheduler.lns import _merge, _pick_machines, _pick_window, _subproblem
from scheduler.solve import solve
from scheduler.validate import compute_kpis, validate


@pytest.mark.parametrize("kind", ["window", "machines"])
def test_neighbourhoods_are_feasible_and_merge_validly(kind: str) -> None:
    p = realistic_shop(400, 10, seed=11, load=1.2)
    s = dispatch(p, "atc")
    rng = random.Random(3)
    for _ in range(3):
        if kind == "window":
            free, group = _pick_window(p, s, rng, set()), None
        else:
            free, group = _pick_machines(p, s, rng, set())
        assert free
        sub, hint = _subproblem(p, s, free, group)
        assert errors(diagnose(sub)) == []
        assert validate(sub, hint) == []
        r = solve(sub, "weighted_tardiness", 2.0, hint=hint)
        assert r.status.has_solution and validate(sub, r.schedule) == []
        merged = _merge(p, s, r.schedule, free)
        assert validate(p, merged) == []
        assert compute_kpis(p, merged).weighted_tardiness <= compute_kpis(p, s).weighted_tardiness
        s = merged
