"""Drawer organiser tray: rows x columns of equal compartments.

Geometry contract for cad/builders/drawer_tray.py (mm; origin at the floor centre, z up):
- rounded open box length (X) x width (Y) x height (Z), vertical outer edges filleted with
  corner_radius, outer walls `wall`, floor floor_thickness;
- dividers `wall` thick and full height: columns - 1 at x in divider_x, rows - 1 at y in
  divider_y (centre planes); compartments are cell_length x cell_width.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from configurator.families._common import colour_param, material_param, process_param
from configurator.family import Family
from configurator.model import GeometryMetrics
from configurator.params import Integer, length
from configurator.processes import Process
from configurator.registry import register
from configurator.rules import Rule, fmt, min_wall_rule

V = Mapping[str, Any]
MIN_CELL_MM = 10.0


def _dividers(total: float, count: int, wall: float) -> tuple[list[float], float]:
    cell = (total - (count + 1) * wall) / count
    first = -total / 2 + wall
    return [round(first + i * (cell + wall) - wall / 2, 3) for i in range(1, count)], round(cell, 3)


def derived(v: V) -> dict[str, Any]:
    xs, cell_l = _dividers(v["length"], v["columns"], v["wall"])
    ys, cell_w = _dividers(v["width"], v["rows"], v["wall"])
    return {"divider_x": xs, "divider_y": ys, "cell_length": cell_l, "cell_width": cell_w}


def _cells(v: V) -> str | None:
    if min(v["cell_length"], v["cell_width"]) < MIN_CELL_MM:
        return (
            f"{v['rows']} x {v['columns']} compartments in {fmt(v['length'])} x {fmt(v['width'])} mm "
            f"with {fmt(v['wall'])} mm walls are {fmt(v['cell_length'])} x {fmt(v['cell_width'])} mm; "
            f"each must be at least {fmt(MIN_CELL_MM)} mm"
        )
    return None


def _corner(v: V) -> str | None:
    limit = min(
        v["length"] / 2 - 1,
        v["width"] / 2 - 1,
        v["wall"] + min(v["cell_length"], v["cell_width"]) / 2,
    )
    if v["corner_radius"] > limit:
        return (
            f"corner radius {fmt(v['corner_radius'])} mm must be at most {fmt(max(limit, 0))} mm "
            f"(half a corner compartment plus the wall)"
        )
    return None


# floor_thickness (<= 4) always leaves >= 11 mm of the height (>= 15): the ranges guarantee it.
GRID = ("length", "width", "rows", "columns", "wall")
RULES = (
    min_wall_rule("wall"),
    min_wall_rule("floor_thickness", "floor thickness"),
    Rule("compartments_too_small", GRID, _cells),
    Rule("corner_radius_too_large", ("corner_radius", *GRID), _corner),
)


def geometry(v: V) -> GeometryMetrics:
    ln, w, h, t, f = v["length"], v["width"], v["height"], v["wall"], v["floor_thickness"]
    walls = (2 * (ln + w) * t + (v["columns"] - 1) * w * t + (v["rows"] - 1) * ln * t) * (h - f)
    volume = ln * w * f + walls
    cells = v["rows"] * v["columns"]
    area = (
        2 * ln * w + 2 * (ln + w) * h + cells * 2 * (v["cell_length"] + v["cell_width"]) * (h - f)
    )
    return GeometryMetrics(volume_mm3=volume, area_mm2=area, bbox_mm=(ln, w, h))


DRAWER_TRAY = register(
    Family(
        key="drawer_tray",
        name="Drawer organiser tray",
        version=1,
        description="Printed drawer insert with a grid of equal compartments.",
        category="home",
        processes=(Process.FDM,),
        params=(
            length("length", "Length", 40, 400, 0.5, 200, group="size"),
            length("width", "Width", 40, 400, 0.5, 120, group="size"),
            length("height", "Height", 15, 120, 0.5, 40, group="size"),
            Integer(name="rows", label="Rows", min=1, max=12, default=2, group="grid"),
            Integer(name="columns", label="Columns", min=1, max=12, default=3, group="grid"),
            length("wall", "Wall thickness", 0.8, 4, 0.1, 1.6, group="size"),
            length("floor_thickness", "Floor thickness", 0.8, 4, 0.1, 1.2, group="size"),
            length("corner_radius", "Corner radius", 0, 30, 0.5, 4, group="size"),
            process_param(Process.FDM),
            material_param("pla", "petg", "abs"),
            colour_param(),
        ),
        derived=derived,
        rules=RULES,
        geometry=geometry,
        max_qty=500,
    )
)
