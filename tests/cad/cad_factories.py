"""Factories for the cad tests (a uniquely named module: tests/ has no packages)."""

from __future__ import annotations

from typing import Any

import configurator.families  # noqa: F401  (registers the families)
from configurator.machines import MachineSpec
from configurator.model import Configuration
from configurator.processes import Process
from configurator.registry import get_family
from configurator.validation import validate


def make_config(family: str, **overrides: Any) -> Configuration:
    """A configuration the configurator accepts: the family defaults plus ``overrides``."""
    raw = get_family(family).default_raw() | overrides
    if "material" in overrides and "colour" not in overrides:
        raw["colour"] = None  # the new material's first colour
    result = validate(family, raw)
    assert result.ok, f"{family} {overrides}: {result.errors}"
    assert result.config is not None
    return result.config


def make_machines() -> list[MachineSpec]:
    """One machine per process, with realistic envelopes."""
    return [
        MachineSpec("mk4", "Prusa MK4", Process.FDM, ("pla", "petg", "abs"), (250, 210, 220)),
        MachineSpec("form3", "Form 3", Process.RESIN, ("resin",), (145, 145, 185)),
        MachineSpec("haas", "Haas mill", Process.CNC, ("aluminium_6061",), (500, 400, 300)),
        MachineSpec("co2", "CO2 laser", Process.LASER, ("acrylic", "plywood"), (600, 400, 10)),
    ]
