"""Objectives: makespan, total weighted tardiness, total setup time, and weighted combinations.

A lexicographic order is solved as a sequence of weighted solves by ``solve.py``; here each
phase is just a weighted sum of terms, plus an optional stability term for rescheduling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ortools.sat.python import cp_model

from .variables import Ctx

TERMS = ("makespan", "weighted_tardiness", "setup_time")


@dataclass(frozen=True)
class ObjectiveSpec:
    """``weights`` per term for a weighted sum; ``lexicographic`` orders terms to optimise in turn
    (each later phase keeps the earlier terms at their best found values)."""

    weights: Mapping[str, int] = field(default_factory=lambda: {"makespan": 1})
    lexicographic: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for t, w in self.weights.items():
            if t not in TERMS:
                raise ValueError(f"objective term {t!r} not one of {TERMS}")
            if not isinstance(w, int) or w < 0:
                raise ValueError(f"objective weight for {t} must be an int >= 0")
        for t in self.lexicographic:
            if t not in TERMS:
                raise ValueError(f"objective term {t!r} not one of {TERMS}")
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))

    @staticmethod
    def parse(value: str | ObjectiveSpec) -> ObjectiveSpec:
        """Accept ``"makespan"``, ``"weighted_tardiness"``, ``"setup_time"``, ``"lex:a,b"``."""
        if isinstance(value, ObjectiveSpec):
            return value
        if value.startswith("lex:"):
            terms = tuple(t.strip() for t in value[4:].split(",") if t.strip())
            return ObjectiveSpec(weights={terms[0]: 1}, lexicographic=terms)
        return ObjectiveSpec(weights={value: 1})


def term(ctx: Ctx, name: str) -> cp_model.LinearExpr | int:
    if name == "makespan":
        assert ctx.makespan is not None, "add_due_dates defines the makespan"
        return ctx.makespan
    if name == "weighted_tardiness":
        return sum(
            j.weight * ctx.tardiness[j.id] for j in ctx.problem.jobs if j.id in ctx.tardiness
        )
    if name == "setup_time":
        return ctx.setup_total
    raise ValueError(name)


def set_objective(ctx: Ctx, weights: Mapping[str, int], stability_weight: int = 0) -> None:
    expr = sum(w * term(ctx, t) for t, w in weights.items() if w)
    if stability_weight:
        expr = expr + stability_weight * ctx.stability
    ctx.model.minimize(expr)
