"""FDM print time and filament before CAD: a model fitted to PrusaSlicer on the shop's profile.

WHY a fitted model: a quote is given before the part is built and sliced, and the price must
not jump when the slicer's numbers arrive. A single "deposition rate" ignored that a slicer
lays perimeters and solid skins slowly and sparse infill fast, so thin-walled and flat parts
came out at half the slicer's time and solid knobs at twice. This model splits the part the
way the slicer does, from what the family knows before CAD (volume, surface area, bounding
box), and prices each share at its own fitted rate:

* skin: the horizontal (top and bottom facing) area, estimated as twice the mean cross-section
  ``2 V / height``, laid solid ``skin_mm`` deep (top plus bottom solid layers);
* shell: the remaining (side) area, laid solid ``shell_mm`` deep (the perimeters);
* infill: what is left of the volume, at the infill fraction;
* layers: height / layer height, for the per-layer moves (travel, layer change, retractions).

Every share is capped by the volume left, so a wall thinner than two perimeters is all shell.
The coefficients are fitted per printer profile (``data/print_model.toml``) by the calibration
sweep described there; ``cad/`` calls the same function on measured geometry when the slicer is
missing, so both estimates agree.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from configurator.errors import DataFileError

DEFAULT_PROFILE = "generic_fdm_0.4"
DEFAULT_INFILL = 0.20  # what cad/slicing.py SliceSettings gives the slicer


@dataclass(frozen=True)
class PrintProfile:
    """Fitted constants of one printer profile (see data/print_model.toml for units)."""

    key: str
    layer_height_mm: float
    shell_mm: float
    skin_mm: float
    minutes_fixed: float
    minutes_per_cm3_shell: float
    minutes_per_cm3_skin: float
    minutes_per_cm3_infill: float
    seconds_per_layer: float
    filament_cm3_fixed: float
    filament_per_cm3_shell: float
    filament_per_cm3_skin: float
    filament_per_cm3_infill: float
    filament_cm3_per_layer: float


@dataclass(frozen=True)
class PrintEstimate:
    """Estimated slicer result for one part: minutes, filament grams, layer count, and source."""

    minutes: float
    grams: float
    layers: int
    source: str  # "print_model:<profile>"


@dataclass(frozen=True)
class Shares:
    """Solid-equivalent volumes (mm³) the slicer would lay as shell, skin and sparse infill."""

    shell_mm3: float
    skin_mm3: float
    infill_mm3: float  # already multiplied by the infill fraction


_FIELDS = {
    "layer_height_mm",
    "shell_mm",
    "skin_mm",
    "minutes_fixed",
    "minutes_per_cm3_shell",
    "minutes_per_cm3_skin",
    "minutes_per_cm3_infill",
    "seconds_per_layer",
    "filament_cm3_fixed",
    "filament_per_cm3_shell",
    "filament_per_cm3_skin",
    "filament_per_cm3_infill",
    "filament_cm3_per_layer",
}


def parse_profiles(text: str) -> dict[str, PrintProfile]:
    """Profiles from a print_model TOML document; DataFileError on a missing or negative key."""
    doc: dict[str, Any] = tomllib.loads(text)
    out: dict[str, PrintProfile] = {}
    try:
        for key, table in doc["profile"].items():
            values = {name: float(table[name]) for name in _FIELDS}
            if any(v < 0 for v in values.values()) or values["layer_height_mm"] <= 0:
                raise ValueError(f"profile {key}: constants must be >= 0 (layer height > 0)")
            out[key] = PrintProfile(key=key, **values)
    except (KeyError, ValueError, TypeError) as exc:
        raise DataFileError(f"print_model.toml: {exc!r}") from exc
    return out


@cache
def profiles() -> dict[str, PrintProfile]:
    """The shipped profiles (loaded once)."""
    text = resources.files("configurator").joinpath("data/print_model.toml").read_text("utf-8")
    return parse_profiles(text)


def get_profile(key: str = DEFAULT_PROFILE) -> PrintProfile:
    """One profile by key; DataFileError names the known ones if it is missing."""
    known = profiles()
    if key not in known:
        raise DataFileError(f"print_model.toml has no profile {key!r}; known: {sorted(known)}")
    return known[key]


def shares(
    volume_mm3: float,
    area_mm2: float,
    height_mm: float,
    infill: float,
    profile: PrintProfile,
) -> Shares:
    """Split a part into shell, skin and infill volumes the way the slicer lays them."""
    volume = max(volume_mm3, 0.0)
    area = max(area_mm2, 0.0)
    horizontal = min(2.0 * volume / max(height_mm, profile.layer_height_mm), area)
    shell = min(volume, (area - horizontal) * profile.shell_mm)
    skin = min(volume - shell, horizontal * profile.skin_mm)
    infill_mm3 = max(volume - shell - skin, 0.0) * min(max(infill, 0.0), 1.0)
    return Shares(shell, skin, infill_mm3)


def fdm_estimate(
    volume_mm3: float,
    area_mm2: float,
    bbox_mm: tuple[float, float, float],
    infill: float = DEFAULT_INFILL,
    density_g_cm3: float = 1.24,
    profile: str = DEFAULT_PROFILE,
) -> PrintEstimate:
    """PrusaSlicer's print minutes and filament grams for one part, printed as oriented.

    ``bbox_mm`` is (x, y, z) with z the build direction; ``infill`` a fraction (0.2 = 20 %).
    """
    p = get_profile(profile)
    height = max(bbox_mm[2], 0.0)
    layers = max(1, math.ceil(height / p.layer_height_mm - 1e-9))
    s = shares(volume_mm3, area_mm2, height, infill, p)
    minutes = (
        p.minutes_fixed
        + s.shell_mm3 / 1000 * p.minutes_per_cm3_shell
        + s.skin_mm3 / 1000 * p.minutes_per_cm3_skin
        + s.infill_mm3 / 1000 * p.minutes_per_cm3_infill
        + layers * p.seconds_per_layer / 60
    )
    filament_cm3 = (
        p.filament_cm3_fixed
        + s.shell_mm3 / 1000 * p.filament_per_cm3_shell
        + s.skin_mm3 / 1000 * p.filament_per_cm3_skin
        + s.infill_mm3 / 1000 * p.filament_per_cm3_infill
        + layers * p.filament_cm3_per_layer
    )
    return PrintEstimate(
        minutes=round(minutes, 2),
        grams=round(filament_cm3 * density_g_cm3, 2),
        layers=layers,
        source=f"print_model:{p.key}",
    )
