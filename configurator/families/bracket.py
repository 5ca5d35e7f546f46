"""Wall/shelf L-bracket whose thickness is sized from the load it must carry.

Geometry contract for cad/builders/bracket.py (mm; origin at the outer corner):
- L profile in the XZ plane: shelf leg x in [0, shelf_leg_length], z in [0, thickness];
  wall leg x in [0, thickness], z in [0, wall_leg_length]; extruded along +Y by width;
- gusset (if gusset): triangle (thickness, thickness), (thickness + gusset_size, thickness),
  (thickness, thickness + gusset_size), gusset_thickness thick, centred in Y;
- holes of hole_diameter through each leg: the shelf leg at x in hole_offsets, the wall leg
  at z in hole_offsets, each at every y in hole_y_positions.
As built and printed the part then lies on its side, (x, y, z) -> (x, z, width - y): the L
profile on the bed and the width along +Z, so its bbox is (shelf leg, wall leg, width).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from configurator.families._common import SCREWS, colour_param, material_param, process_param
from configurator.family import Family
from configurator.materials import get_material
from configurator.model import GeometryMetrics
from configurator.params import Boolean, Choice, Integer, Number, length
from configurator.processes import Process
from configurator.registry import register
from configurator.rules import Rule, fmt

V = Mapping[str, Any]
MAX_THICKNESS_MM = 25.0
G = 9.81


def required_thickness(v: V) -> float:
    """Thickness so the root bending stress of a tip load stays below the allowable stress."""
    moment = v["load_kg"] * G * v["shelf_leg_length"] * (0.5 if v["gusset"] else 1.0)
    sigma = get_material(v["material"]).allowable_stress_mpa
    t = math.sqrt(6 * moment / (v["width"] * sigma))
    floor = max(3.0, 2 * get_material(v["material"]).min_wall(Process(v["process"])))
    return max(math.ceil(t * 2) / 2, floor)


def derived(v: V) -> dict[str, Any]:
    t = required_thickness(v)
    hd = SCREWS[v["screw"]][1]
    legs = min(v["shelf_leg_length"], v["wall_leg_length"])
    if v["holes_per_leg"] == 1:
        offsets: tuple[float, ...] = (round((t + legs) / 2, 2),)
    else:
        offsets = (round(t + 2 * hd, 2), round(legs - 2 * hd, 2))
    ys: tuple[float, ...] = (round(v["width"] / 2, 2),)
    if v["gusset"]:
        edge = round((v["width"] - t) / 4, 2)
        ys = (edge, round(v["width"] - edge, 2))
    return {
        "thickness": t,
        "hole_diameter": hd,
        "hole_offsets": offsets,
        "hole_y_positions": ys,
        "gusset_size": round(0.6 * (legs - t), 2),
        "gusset_thickness": t,
    }


def _too_thick(v: V) -> str | None:
    if (
        v["thickness"] > MAX_THICKNESS_MM
        or v["thickness"] > min(v["shelf_leg_length"], v["wall_leg_length"]) / 3
    ):
        return (
            f"load {fmt(v['load_kg'])} kg on a {fmt(v['shelf_leg_length'])} mm shelf leg needs a "
            f"{fmt(v['thickness'])} mm thick {get_material(v['material']).name} bracket "
            f"(limit {fmt(MAX_THICKNESS_MM)} mm and a third of the shorter leg): choose a stronger "
            f"material, add a gusset, widen it or shorten the shelf leg"
        )
    return None


def _hole_room(v: V) -> str | None:
    hd, t = v["hole_diameter"], v["thickness"]
    legs = min(v["shelf_leg_length"], v["wall_leg_length"])
    need = t + (6 * hd if v["holes_per_leg"] == 2 else 3 * hd)
    if legs < need:
        return (
            f"legs of {fmt(legs)} mm are too short for {v['holes_per_leg']} {v['screw'].upper()} "
            f"holes with a {fmt(t)} mm thickness; make them at least {fmt(need)} mm"
        )
    return None


def _hole_width(v: V) -> str | None:
    hd, t = v["hole_diameter"], v["thickness"]
    need = 2.5 * hd if not v["gusset"] else t + 2 * (hd + 2)
    if v["width"] < need:
        return (
            f"width {fmt(v['width'])} mm is too narrow for {v['screw'].upper()} holes"
            f"{' beside the gusset' if v['gusset'] else ''}; use at least {fmt(need)} mm"
        )
    return None


SIZE = ("load_kg", "shelf_leg_length", "wall_leg_length", "width", "gusset", "material", "process")
RULES = (
    Rule("load_needs_thicker_bracket", SIZE, _too_thick),
    Rule("legs_too_short_for_holes", (*SIZE, "screw", "holes_per_leg"), _hole_room),
    Rule("too_narrow_for_holes", (*SIZE, "screw"), _hole_width),
)


def geometry(v: V) -> GeometryMetrics:
    t, w = v["thickness"], v["width"]
    a, b = v["shelf_leg_length"], v["wall_leg_length"]
    profile = a * t + (b - t) * t
    volume = profile * w
    if v["gusset"]:
        volume += v["gusset_size"] ** 2 / 2 * t
    holes = 2 * len(v["hole_offsets"]) * len(v["hole_y_positions"])
    volume -= holes * math.pi * v["hole_diameter"] ** 2 / 4 * t
    area = 2 * profile + 2 * (a + b) * w
    if v["gusset"]:  # two triangles and the sloped face, less the leg faces they cover
        g, gt = v["gusset_size"], v["gusset_thickness"]
        area += g * g + g * math.sqrt(2) * gt - 2 * g * gt
    d = v["hole_diameter"]
    area += holes * (math.pi * d * t - 2 * math.pi * d * d / 4)
    return GeometryMetrics(volume_mm3=volume, area_mm2=area, bbox_mm=(a, b, w))


BRACKET = register(
    Family(
        key="bracket",
        name="Shelf bracket",
        version=1,
        description="L-bracket for walls and shelves; its thickness follows the rated load.",
        category="hardware",
        processes=(Process.FDM, Process.CNC),
        params=(
            Number(
                name="load_kg",
                label="Rated load",
                min=0.5,
                max=60,
                step=0.5,
                default=5,
                unit="kg",
                group="load",
                help="Load at the tip of the shelf leg.",
            ),
            length("shelf_leg_length", "Shelf leg length", 30, 250, 1, 100, group="size"),
            length("wall_leg_length", "Wall leg length", 30, 250, 1, 100, group="size"),
            length("width", "Width", 15, 100, 0.5, 30, group="size"),
            Boolean(
                name="gusset",
                label="Gusset",
                default=False,
                group="size",
                help="A triangular rib; halves the bending load.",
            ),
            Choice(
                name="screw",
                label="Screw size",
                options=("m4", "m5", "m6"),
                default="m5",
                group="holes",
            ),
            Integer(
                name="holes_per_leg", label="Holes per leg", min=1, max=2, default=2, group="holes"
            ),
            process_param(Process.FDM, Process.CNC),
            material_param("petg", "pla", "abs", "aluminium_6061"),
            colour_param(),
        ),
        derived=derived,
        rules=RULES,
        geometry=geometry,
        max_qty=1000,
    )
)
