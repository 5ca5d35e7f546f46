"""Electronics enclosure: rounded box with lid, bosses, vent slots and cable holes.

Geometry contract for cad/builders/enclosure.py (all mm, origin at the floor centre):
- body: rounded box outer_length x outer_width x body_height, vertical edges filleted with
  corner_radius, open top, walls and floor `wall` thick;
- lid (lid != "none"): plate outer_length x outer_width x lid_thickness with the same corners;
  "snap" adds a lip of lip_height inset by wall + 0.2 clearance; "screw" has clearance holes
  of screw_clearance_diameter at the boss positions;
- bosses (if bosses): four cylinders boss_diameter at (±boss_x, ±boss_y), boss_height tall from
  the floor top, each with a pilot hole pilot_diameter; they overlap the walls/rounded inner
  corners by 0.5 mm (never tangent); in a rounded corner a boss sits on the corner diagonal
  and its pilot hole keeps at least `wall` of material to the outer skin (rule
  boss_pilot_wall_too_thin); bosses and a snap lid are exclusive (the lip ring would run
  through them: rule snap_lid_with_bosses);
- vent slots: vent_slots slots per long wall (±Y), vent_slot_width wide (X) and
  vent_slot_length tall (Z), pitch vent_pitch, centred at x=0 and z=vent_z;
- cable holes: cable_holes holes of cable_hole_diameter in the -X wall, pitch cable_pitch,
  centred at y=0 and z=vent_z.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from configurator.families._common import (
    SCREWS,
    assemble_step,
    box_metrics,
    colour_param,
    cylinder_volume,
    material_param,
    process_param,
)
from configurator.family import Family
from configurator.model import GeometryMetrics, RoutingStep
from configurator.params import Boolean, Choice, Integer, length
from configurator.processes import Process
from configurator.registry import register
from configurator.rules import Rule, fmt, min_wall_rule

V = Mapping[str, Any]
BOSS_OVERLAP_MM = 0.5
PLATE_GAP_MM = 5.0


def boss_inset(v: V) -> float:
    """Distance of a boss centre from the inner walls: overlaps the wall (or the rounded inner
    corner) by BOSS_OVERLAP_MM so the union never relies on tangent contact or pokes outside."""
    bd: float = v["boss_diameter"]
    r_in: float = max(v["corner_radius"] - v["wall"], 0.0)
    if r_in > bd / 2:
        return r_in - (r_in - bd / 2 + BOSS_OVERLAP_MM) / math.sqrt(2)
    return bd / 2 - BOSS_OVERLAP_MM


def derived(v: V) -> dict[str, Any]:
    wall = v["wall"]
    pilot, clearance, _ = SCREWS[v["screw"]]
    inset = boss_inset(v)
    return {
        "outer_length": round(v["inner_length"] + 2 * wall, 3),
        "outer_width": round(v["inner_width"] + 2 * wall, 3),
        "body_height": round(v["inner_height"] + wall, 3),
        "lid_thickness": wall,
        "lip_height": 3.0,
        "boss_x": round(v["inner_length"] / 2 - inset, 3),
        "boss_y": round(v["inner_width"] / 2 - inset, 3),
        "boss_height": round(v["inner_height"] - (3.0 if v["lid"] == "snap" else 0.0), 3),
        "pilot_diameter": pilot,
        "screw_clearance_diameter": clearance,
        "vent_slot_length": round(v["inner_height"] * 0.5, 1),
        "vent_pitch": round(2 * v["vent_slot_width"], 3),
        "vent_z": round(wall + v["inner_height"] / 2, 3),
        "cable_pitch": round(v["cable_hole_diameter"] + 3.0, 3),
    }


def _corner(v: V) -> str | None:
    limit = min(v["outer_length"], v["outer_width"]) / 2 - 1
    if v["corner_radius"] > limit:
        return (
            f"corner radius {fmt(v['corner_radius'])} mm must be at most {fmt(limit)} mm "
            f"(half the smaller outer side minus 1 mm, from inner length/width and wall)"
        )
    return None


def _boss_size(v: V) -> str | None:
    need = v["pilot_diameter"] + 2.4
    if v["bosses"] and v["boss_diameter"] < need:
        return (
            f"boss diameter {fmt(v['boss_diameter'])} mm is too small for a "
            f"{v['screw'].upper()} screw; use at least {fmt(need)} mm"
        )
    return None


def _boss_fit(v: V) -> str | None:
    gap = 2 * min(v["boss_x"], v["boss_y"]) - v["boss_diameter"]
    if v["bosses"] and gap < 2:
        return (
            f"four bosses of {fmt(v['boss_diameter'])} mm do not fit in an inner size of "
            f"{fmt(v['inner_length'])} x {fmt(v['inner_width'])} mm"
        )
    return None


def pilot_corner_material(v: V) -> float:
    """Material (mm) between a boss's pilot hole and the body's outer skin, measured at the
    boss centre cad/ uses (boss_x, boss_y): in a rounded corner the nearest skin is the outer
    arc (centre outer/2 - corner_radius), elsewhere the straight walls."""
    r, bx, by = v["corner_radius"], v["boss_x"], v["boss_y"]
    cx, cy = v["outer_length"] / 2 - r, v["outer_width"] / 2 - r
    skin: float
    if r > 0 and bx > cx and by > cy:
        skin = r - math.hypot(bx - cx, by - cy)
    else:
        skin = min(v["outer_length"] / 2 - bx, v["outer_width"] / 2 - by)
    pilot: float = v["pilot_diameter"]
    return skin - pilot / 2


def _boss_corner(v: V) -> str | None:
    left = pilot_corner_material(v)
    if v["bosses"] and left < v["wall"]:
        return (
            f"corner radius {fmt(v['corner_radius'])} mm leaves {fmt(max(left, 0.0))} mm of "
            f"material around the {v['screw'].upper()} pilot hole of each "
            f"{fmt(v['boss_diameter'])} mm corner boss, less than the {fmt(v['wall'])} mm wall; "
            f"reduce the corner radius or use larger bosses"
        )
    return None


def _snap_bosses(v: V) -> str | None:
    if v["lid"] == "snap" and v["bosses"]:
        return (
            "a snap lid cannot be used with mounting bosses (its lip would run through the "
            "corner bosses): turn bosses off or choose a screw lid"
        )
    return None


def _screw_lid(v: V) -> str | None:
    if v["lid"] == "screw" and not v["bosses"]:
        return "a screw lid needs mounting bosses: enable bosses or choose a snap lid"
    return None


def _side_margin(v: V) -> float:
    margin: float = max(v["corner_radius"], v["boss_diameter"] if v["bosses"] else 0.0)
    return margin + 2.0


def _vents(v: V) -> str | None:
    span = v["vent_slots"] * v["vent_pitch"] - v["vent_slot_width"]
    room = v["inner_length"] - 2 * _side_margin(v)
    if v["vent_slots"] and span > room:
        return (
            f"{v['vent_slots']} vent slots of {fmt(v['vent_slot_width'])} mm need "
            f"{fmt(span)} mm along the inner length but only {fmt(max(room, 0))} mm is free "
            f"(corner radius, bosses)"
        )
    return None


def _cable_height(v: V) -> str | None:
    if v["cable_holes"] and v["cable_hole_diameter"] > v["inner_height"] - 4:
        return (
            f"cable hole diameter {fmt(v['cable_hole_diameter'])} mm does not fit in an inner "
            f"height of {fmt(v['inner_height'])} mm (needs 4 mm margin)"
        )
    return None


def _cable_width(v: V) -> str | None:
    span = v["cable_holes"] * v["cable_pitch"] - 3.0
    room = v["inner_width"] - 2 * _side_margin(v)
    if v["cable_holes"] and span > room:
        return (
            f"{v['cable_holes']} cable holes of {fmt(v['cable_hole_diameter'])} mm need "
            f"{fmt(span)} mm across the inner width but only {fmt(max(room, 0))} mm is free"
        )
    return None


RULES = (
    min_wall_rule("wall"),
    Rule(
        "corner_radius_too_large", ("corner_radius", "inner_length", "inner_width", "wall"), _corner
    ),
    Rule("boss_too_small", ("boss_diameter", "screw", "bosses"), _boss_size),
    Rule(
        "bosses_do_not_fit", ("boss_diameter", "inner_length", "inner_width", "bosses"), _boss_fit
    ),
    Rule(
        "boss_pilot_wall_too_thin",
        (
            "corner_radius",
            "wall",
            "boss_diameter",
            "screw",
            "bosses",
            "inner_length",
            "inner_width",
        ),
        _boss_corner,
    ),
    Rule("screw_lid_needs_bosses", ("lid", "bosses"), _screw_lid),
    Rule("snap_lid_with_bosses", ("lid", "bosses"), _snap_bosses),
    Rule(
        "vents_do_not_fit",
        (
            "vent_slots",
            "vent_slot_width",
            "inner_length",
            "corner_radius",
            "boss_diameter",
            "bosses",
            "inner_height",
        ),
        _vents,
    ),
    Rule(
        "cable_hole_too_tall", ("cable_hole_diameter", "cable_holes", "inner_height"), _cable_height
    ),
    Rule(
        "cable_holes_do_not_fit",
        (
            "cable_holes",
            "cable_hole_diameter",
            "inner_width",
            "corner_radius",
            "boss_diameter",
            "bosses",
        ),
        _cable_width,
    ),
)


def geometry(v: V) -> GeometryMetrics:
    ol, ow, bh = v["outer_length"], v["outer_width"], v["body_height"]
    il, iw, ih = v["inner_length"], v["inner_width"], v["inner_height"]
    volume = ol * ow * bh - il * iw * ih
    if v["lid"] != "none":
        volume += ol * ow * v["lid_thickness"]
    if v["bosses"]:
        volume += 4 * cylinder_volume(v["boss_diameter"], v["boss_height"])
    outer = box_metrics(ol, ow, bh)
    inner = box_metrics(il, iw, ih)
    # the body is open at the top: neither the outer nor the cavity box has a top face
    area = outer.area_mm2 + inner.area_mm2 - 2 * il * iw
    if v["lid"] != "none":
        area += 2 * ol * ow + 2 * (ol + ow) * v["lid_thickness"]
    # with a lid, cad/ lays body and lid side by side on one plate (5 mm gap)
    depth = 2 * ow + PLATE_GAP_MM if v["lid"] != "none" else ow
    return GeometryMetrics(volume_mm3=volume, area_mm2=area, bbox_mm=(ol, depth, bh))


def extra_steps(v: V) -> list[RoutingStep]:
    return [assemble_step("fit lid")] if v["lid"] != "none" else []


ENCLOSURE = register(
    Family(
        key="enclosure",
        name="Electronics enclosure",
        version=1,
        description="Rounded project box with lid, screw bosses, vent slots and cable holes.",
        category="enclosures",
        processes=(Process.FDM, Process.RESIN),
        params=(
            length("inner_length", "Inner length", 20, 300, 0.5, 80, group="size"),
            length("inner_width", "Inner width", 20, 300, 0.5, 50, group="size"),
            length("inner_height", "Inner height", 10, 200, 0.5, 30, group="size"),
            length(
                "wall",
                "Wall thickness",
                0.6,
                6,
                0.1,
                2.0,
                group="size",
                help="Also the floor and lid thickness.",
            ),
            length("corner_radius", "Corner radius", 0, 40, 0.5, 3, group="size"),
            Choice(
                name="lid",
                label="Lid",
                options=("screw", "snap", "none"),
                default="screw",
                group="lid",
            ),
            Boolean(name="bosses", label="Mounting bosses", default=True, group="lid"),
            length("boss_diameter", "Boss diameter", 4, 14, 0.5, 6, group="lid"),
            Choice(
                name="screw",
                label="Screw size",
                options=("m2", "m2.5", "m3", "m4"),
                default="m3",
                group="lid",
            ),
            Integer(
                name="vent_slots",
                label="Vent slots per side",
                min=0,
                max=30,
                default=4,
                group="openings",
            ),
            length("vent_slot_width", "Vent slot width", 1, 6, 0.5, 2, group="openings"),
            Integer(
                name="cable_holes", label="Cable holes", min=0, max=6, default=1, group="openings"
            ),
            length("cable_hole_diameter", "Cable hole diameter", 3, 30, 0.5, 6, group="openings"),
            process_param(Process.FDM, Process.RESIN),
            material_param("pla", "petg", "abs", "resin"),
            colour_param(),
        ),
        derived=derived,
        rules=RULES,
        geometry=geometry,
        extra_steps=extra_steps,
        max_qty=500,
    )
)
