"""Plate pipe flange (slip-on or blind), EN 1092-1 PN16 sizes as a starting point.

Geometry contract for cad/builders/pipe_flange.py (mm; axis = Z, z in [0, thickness]):
- disc of outer_diameter; bore_diameter through the centre when > 0 (slip-on: pipe OD + 1);
- bolt_count holes of bolt_hole_diameter on bolt_circle_diameter, the first at
  first_bolt_angle_deg from +X, evenly spaced.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from configurator.families._common import colour_param, material_param, process_param
from configurator.family import Family
from configurator.model import GeometryMetrics
from configurator.params import Choice, Integer, length
from configurator.processes import Process
from configurator.registry import register
from configurator.rules import Rule, fmt, min_wall_rule

V = Mapping[str, Any]
LIGAMENT_MM = 3.0
SLIP_CLEARANCE_MM = 1.0


@cache
def flange_table() -> dict[str, dict[str, float]]:
    """EN 1092-1 PN16 dimensions keyed by nominal size (dn15 ... dn150)."""
    text = resources.files("configurator").joinpath("data/flanges.toml").read_text("utf-8")
    return tomllib.loads(text)


def derived(v: V) -> dict[str, Any]:
    std = flange_table()[v["nominal_size"]]
    bore = round(std["pipe_od_mm"] + SLIP_CLEARANCE_MM, 2) if v["flange_type"] == "slip_on" else 0.0
    matches = (
        abs(v["outer_diameter"] - std["outer_diameter_mm"]) < 0.01
        and abs(v["bolt_circle_diameter"] - std["bolt_circle_mm"]) < 0.01
        and v["bolt_count"] == std["bolt_count"]
        and abs(v["bolt_hole_diameter"] - std["bolt_hole_mm"]) < 0.01
    )
    return {
        "pipe_od": std["pipe_od_mm"],
        "bore_diameter": bore,
        "first_bolt_angle_deg": round(180.0 / v["bolt_count"], 4),
        "matches_standard": matches,
    }


def _std_hint(v: V) -> str:
    s = flange_table()[v["nominal_size"]]
    return (
        f"(EN 1092-1 PN16 {v['nominal_size'].upper()}: outer {fmt(s['outer_diameter_mm'])}, bolt circle "
        f"{fmt(s['bolt_circle_mm'])}, {int(s['bolt_count'])} x {fmt(s['bolt_hole_mm'])} mm holes)"
    )


def _inner(v: V) -> str | None:
    inner_edge = v["bolt_circle_diameter"] - v["bolt_hole_diameter"]
    need = v["bore_diameter"] + 2 * LIGAMENT_MM if v["bore_diameter"] else 2 * LIGAMENT_MM
    if inner_edge < need:
        return (
            f"bolt circle {fmt(v['bolt_circle_diameter'])} mm with {fmt(v['bolt_hole_diameter'])} mm "
            f"holes leaves no {fmt(LIGAMENT_MM)} mm ligament around the {fmt(v['bore_diameter'])} mm "
            f"bore of {v['nominal_size'].upper()} {_std_hint(v)}"
        )
    return None


def _outer(v: V) -> str | None:
    need = v["bolt_circle_diameter"] + v["bolt_hole_diameter"] + 2 * LIGAMENT_MM
    if v["outer_diameter"] < need:
        return (
            f"outer diameter {fmt(v['outer_diameter'])} mm is too small for a "
            f"{fmt(v['bolt_circle_diameter'])} mm bolt circle with {fmt(v['bolt_hole_diameter'])} mm "
            f"holes; use at least {fmt(need)} mm"
        )
    return None


def _spacing(v: V) -> str | None:
    chord = v["bolt_circle_diameter"] * math.sin(math.pi / v["bolt_count"])
    if chord < v["bolt_hole_diameter"] + LIGAMENT_MM:
        return (
            f"{v['bolt_count']} bolt holes of {fmt(v['bolt_hole_diameter'])} mm overlap on a "
            f"{fmt(v['bolt_circle_diameter'])} mm bolt circle; use fewer or smaller holes"
        )
    return None


BOLTS = ("bolt_circle_diameter", "bolt_hole_diameter")
RULES = (
    min_wall_rule("thickness"),
    Rule("bolt_circle_too_small", (*BOLTS, "nominal_size", "flange_type"), _inner),
    Rule("outer_diameter_too_small", ("outer_diameter", *BOLTS), _outer),
    Rule("bolt_holes_overlap", ("bolt_count", *BOLTS), _spacing),
)


def geometry(v: V) -> GeometryMetrics:
    od, t, n, hd = v["outer_diameter"], v["thickness"], v["bolt_count"], v["bolt_hole_diameter"]
    bore = v["bore_diameter"]
    face = math.pi / 4 * (od * od - bore * bore - n * hd * hd)
    area = 2 * face + math.pi * (od + bore + n * hd) * t
    return GeometryMetrics(volume_mm3=face * t, area_mm2=area, bbox_mm=(od, od, t))


PIPE_FLANGE = register(
    Family(
        key="pipe_flange",
        name="Pipe flange",
        version=1,
        description="Plate flange, slip-on or blind, defaults after EN 1092-1 PN16.",
        category="fluid",
        processes=(Process.CNC, Process.FDM),
        params=(
            Choice(
                name="nominal_size",
                label="Nominal size",
                options=tuple(flange_table()),
                default="dn50",
                group="size",
            ),
            Choice(
                name="flange_type",
                label="Type",
                options=("slip_on", "blind"),
                default="slip_on",
                group="size",
            ),
            length("outer_diameter", "Outer diameter", 60, 340, 0.5, 165, group="size"),
            length("bolt_circle_diameter", "Bolt circle", 40, 300, 0.5, 125, group="bolts"),
            Integer(name="bolt_count", label="Bolt count", min=3, max=24, default=4, group="bolts"),
            length("bolt_hole_diameter", "Bolt hole diameter", 6, 33, 0.5, 18, group="bolts"),
            length("thickness", "Thickness", 5, 40, 0.5, 16, group="size"),
            process_param(Process.CNC, Process.FDM),
            material_param("aluminium_6061", "petg", "abs"),
            colour_param(),
        ),
        derived=derived,
        rules=RULES,
        geometry=geometry,
        max_qty=500,
    )
)
