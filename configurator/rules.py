"""Rules: named predicates over a configuration's values and derived values.

A rule's `params` lists every parameter its check reads, so validation runs it only when
all of those parsed cleanly, and attaches its error to the first one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from configurator.materials import get_material
from configurator.processes import Process

Check = Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class Rule:
    """`check(v)` returns None when satisfied, else a message naming the parameters involved."""

    code: str
    params: tuple[str, ...]
    check: Check
    description: str = ""


def fmt(x: float) -> str:
    """Short number rendering for messages (0.8, 12, 2.5)."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def min_wall_rule(param: str, label: str | None = None) -> Rule:
    """`param` must be at least the material's minimum wall on the chosen process."""
    label = label or param.replace("_", " ")

    def check(v: Mapping[str, Any]) -> str | None:
        mat = get_material(v["material"])
        proc = Process(v["process"])
        need = mat.min_wall(proc)
        if v[param] < need:
            return (
                f"{label} {fmt(v[param])} mm is below the {fmt(need)} mm minimum for "
                f"{mat.name} on {proc.value.upper()}"
            )
        return None

    return Rule("below_min_wall", (param, "material", "process"), check, f"{label} >= min wall")
