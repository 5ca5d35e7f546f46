"""The dispatch baseline: always valid, frozen work untouched, rules differ where they should."""

from __future__ import annotations

import pytest
from sched_helpers import BENCH, needs_bench

from scheduler.dispatch import dispatch
from scheduler.formats import read_any
from scheduler.generate import realistic_shop
from scheduler.validate import compute_kpis, validate


@pytest.mark.parametrize("rule", ["ect", "mwkr", "edd", "atc"])
def test_dispatch_on_generated_shop_is_valid(rule: str) -> None:
    p = realistic_shop(300, 12, seed=7)
    assert any(o.frozen for o in p.operations)
    s = dispatch(p, rule)
    assert validate(p, s) == []


def test_atc_beats_ect_on_weighted_tardiness() -> None:
    p = realistic_shop(400, 12, seed=3, load=1.1)
    ect = compute_kpis(p, dispatch(p, "ect")).weighted_tardiness
    atc = compute_kpis(p, dispatch(p, "atc")).weighted_tardiness
    assert atc < ect


def test_unknown_rule_is_a_programmer_error() -> None:
    with pytest.raises(ValueError, match="rule must be one of"):
        dispatch(realistic_shop(10, 4), "fifo")


@needs_bench
@pytest.mark.parametrize(
    "rel", ["jssp/ft10.txt", "fjsp/brandimarte/mk10.fjs", "fjsp_sdst/BrandimarteMk15.fjs"]
)
def test_dispatch_valid_on_public_instances(rel: str) -> None:
    p = read_any(BENCH / rel)
    s = dispatch(p, "ect")
    assert validate(p, s) == []


def test_best_dispatch_takes_the_better_rule() -> None:
    from scheduler.cpsat.objective import ObjectiveSpec
    from scheduler.solve import best_dispatch

    p = realistic_shop(200, 8, seed=2)
    best = best_dispatch(p, ObjectiveSpec.parse("makespan"))
    assert best.makespan == min(dispatch(p, r).makespan for r in ("ect", "mwkr"))
    assert validate(p, best) == []


def test_past_its_deadline_dispatch_still_gives_a_complete_valid_plan_quickly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deadline bounds the careful phase: a deadline already past means each pick's slot
    is computed once or twice, not re-evaluated after every booking (linear, not quadratic)."""
    import importlib
    import time

    dispatch_module = importlib.import_module("scheduler.dispatch")
    problem = realistic_shop(300, 8, seed=3)
    calls = {"n": 0}
    real = dispatch_module._best_slot

    def counted(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(dispatch_module, "_best_slot", counted)
    careful = dispatch(problem, "atc")
    careful_calls, calls["n"] = calls["n"], 0
    hurried = dispatch(problem, "atc", deadline=time.perf_counter() - 1)
    n = len(problem.operations)
    assert not validate(problem, careful) and not validate(problem, hurried)
    assert len(hurried.assignments) == len(careful.assignments) == n
    assert calls["n"] <= 2 * n < careful_calls
