"""Control knob for a D-shaft (or round shaft), smooth, fluted or ribbed grip.

Geometry contract for cad/builders/knob.py (mm; axis = Z, base on z = 0, top at z = height):
- cylinder diameter x height, top edge filleted with top_fillet (fillet before cutting grips);
- grip "fluted": `flutes` cylindrical cuts of flute_radius centred on the rim (radius
  diameter/2), evenly spaced; "ribbed": rib_count grooves of flute_radius/2 the same way;
- shaft bore from the bottom: shaft_diameter, depth shaft_depth; with d_flat the bore is a
  circle cut by a flat at flat_offset from the axis (the solid side at +X);
- pointer (if pointer): groove on the top face from the centre to the rim along +X,
  pointer_width wide and pointer_depth deep.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from configurator.families._common import (
    colour_param,
    cylinder_volume,
    material_param,
    process_param,
)
from configurator.family import Family
from configurator.materials import get_material
from configurator.model import GeometryMetrics
from configurator.params import Boolean, Choice, Integer, length
from configurator.processes import Process
from configurator.registry import register
from configurator.rules import Rule, fmt

V = Mapping[str, Any]


def derived(v: V) -> dict[str, Any]:
    d = v["diameter"]
    flute_r = round(max(d * 0.06, 1.0), 2)
    cut = {"fluted": flute_r, "ribbed": flute_r / 2, "smooth": 0.0}[v["grip"]]
    return {
        "flat_offset": round(v["shaft_diameter"] * 0.25, 3) if v["d_flat"] else None,
        "flute_radius": flute_r,
        "grip_depth": round(cut, 3),
        "rib_count": max(int(math.pi * d / (flute_r + 1.5)), 6),
        "top_fillet": round(min(1.5, v["height"] * 0.1), 2),
        "pointer_width": 1.2,
        "pointer_depth": 0.8,
    }


def _wall(v: V) -> float:
    return max(get_material(v["material"]).min_wall(Process(v["process"])), 1.5)


def _around_shaft(v: V) -> str | None:
    wall = (v["diameter"] - 2 * v["grip_depth"] - v["shaft_diameter"]) / 2
    if wall < _wall(v):
        return (
            f"diameter {fmt(v['diameter'])} mm leaves a {fmt(max(wall, 0))} mm wall around the "
            f"{fmt(v['shaft_diameter'])} mm shaft ({v['grip']} grip); at least {fmt(_wall(v))} mm is needed"
        )
    return None


def _depth(v: V) -> str | None:
    cap = _wall(v) + (v["pointer_depth"] if v["pointer"] else 0)
    if v["shaft_depth"] > v["height"] - cap:
        return (
            f"shaft depth {fmt(v['shaft_depth'])} mm leaves less than {fmt(cap)} mm above it in a "
            f"{fmt(v['height'])} mm tall knob"
        )
    return None


def _flutes(v: V) -> str | None:
    if v["grip"] != "fluted":
        return None
    if v["flutes"] < 5:
        return f"a fluted grip needs at least 5 flutes (flutes is {v['flutes']})"
    pitch = math.pi * v["diameter"] / v["flutes"]
    if pitch < 2 * v["flute_radius"] + 1:
        return f"{v['flutes']} flutes overlap on a {fmt(v['diameter'])} mm knob; use at most {int(math.pi * v['diameter'] / (2 * v['flute_radius'] + 1))}"
    return None


RULES = (
    Rule(
        "wall_around_shaft",
        ("diameter", "shaft_diameter", "grip", "material", "process"),
        _around_shaft,
    ),
    Rule("shaft_too_deep", ("shaft_depth", "height", "pointer", "material", "process"), _depth),
    Rule("flutes_invalid", ("flutes", "grip", "diameter"), _flutes),
)


def geometry(v: V) -> GeometryMetrics:
    d, h = v["diameter"], v["height"]
    volume = cylinder_volume(d, h) - cylinder_volume(v["shaft_diameter"], v["shaft_depth"])
    cuts = {"fluted": v["flutes"], "ribbed": v["rib_count"]}.get(v["grip"], 0)
    grip = cuts * (math.pi - 2) * v["grip_depth"] * h  # each cut: half a circle for a chord
    area = (
        math.pi * d * h
        + 2 * math.pi * d * d / 4
        + math.pi * v["shaft_diameter"] * v["shaft_depth"]
        + grip
    )
    return GeometryMetrics(volume_mm3=volume, area_mm2=area, bbox_mm=(d, d, h))


KNOB = register(
    Family(
        key="knob",
        name="Control knob",
        version=1,
        description="Knob for potentiometers, encoders and valves, D-shaft or round bore.",
        category="hardware",
        processes=(Process.RESIN, Process.FDM),
        params=(
            length("diameter", "Diameter", 10, 80, 0.5, 25, group="size"),
            length("height", "Height", 8, 50, 0.5, 16, group="size"),
            length("shaft_diameter", "Shaft diameter", 2, 12, 0.05, 6, group="shaft"),
            Boolean(name="d_flat", label="D-shaft flat", default=True, group="shaft"),
            length("shaft_depth", "Shaft depth", 4, 45, 0.5, 12, group="shaft"),
            Choice(
                name="grip",
                label="Grip",
                options=("fluted", "ribbed", "smooth"),
                default="fluted",
                group="grip",
            ),
            Integer(name="flutes", label="Flutes", min=0, max=48, default=12, group="grip"),
            Boolean(name="pointer", label="Pointer mark", default=True, group="grip"),
            process_param(Process.RESIN, Process.FDM),
            material_param("resin", "pla", "petg", "abs"),
            colour_param(),
        ),
        derived=derived,
        rules=RULES,
        geometry=geometry,
        max_qty=5000,
    )
)
