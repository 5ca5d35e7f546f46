"""Process floors from data/process_limits.toml: the one home of "the machine cannot make it".

Validation (family rules, `Material.min_wall`) and DFM (`cad.analysis`) read the same numbers,
so a design the configurator accepts is not held later for a wall the process cannot make.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from configurator.errors import DataFileError


def parse_floors(text: str) -> MappingProxyType[str, float]:
    """`process -> min_wall_mm` from a process-limits TOML document."""
    doc: dict[str, Any] = tomllib.loads(text)
    floors: dict[str, float] = {}
    for process, body in doc.items():
        if process == "gear":
            continue
        try:
            floors[process] = float(body["min_wall_mm"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFileError(f"process_limits.toml [{process}]: {exc!r}") from exc
        if floors[process] < 0:
            raise DataFileError(f"process_limits.toml [{process}]: min_wall_mm must be >= 0")
    if "fdm" not in floors:
        raise DataFileError("process_limits.toml needs an [fdm] floor (the default)")
    return MappingProxyType(floors)


@cache
def _document() -> str:
    return resources.files("configurator").joinpath("data/process_limits.toml").read_text("utf-8")


@cache
def min_wall_floors() -> MappingProxyType[str, float]:
    """Every process's floor in mm (loaded once)."""
    return parse_floors(_document())


def process_floor_mm(process: str) -> float:
    """The thinnest wall `process` can make; an unknown process gets the FDM floor."""
    floors = min_wall_floors()
    key = str(getattr(process, "value", process)).lower()
    return floors.get(key, floors["fdm"])


@cache
def tooth_wall_fraction() -> float:
    """Where on the addendum a gear tooth's wall is checked (0 = pitch circle, 1 = tip)."""
    doc: dict[str, Any] = tomllib.loads(_document())
    try:
        value = float(doc["gear"]["tooth_wall_at_addendum_fraction"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"process_limits.toml [gear]: {exc!r}") from exc
    if not 0 <= value <= 1:
        raise DataFileError("process_limits.toml [gear]: the fraction must be within 0..1")
    return value
