"""Phone or tablet stand: a wedge backrest at a chosen angle with a front lip.

Geometry contract for cad/builders/device_stand.py (mm): `profile` is a simple closed polygon
of (x, z) points, counter-clockwise, in the XZ plane; extrude it along +Y by width. If
profile_hole is not None, it is a triangle strictly inside the profile: cut it through. If
cable_slot, cut a box x in [cable_slot_x0, cable_slot_x1], z in [0, cable_slot_height], of
cable_slot_width centred in Y (a tunnel under the device for a charging cable, leaving through
the back: x1 lies 1 mm beyond the part).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from configurator.families._common import colour_param, material_param, process_param
from configurator.family import Family
from configurator.model import GeometryMetrics
from configurator.params import Boolean, Number, length
from configurator.processes import Process
from configurator.registry import register
from configurator.rules import Rule, fmt, min_wall_rule

V = Mapping[str, Any]
SLOT_CLEARANCE_MM = 1.0


def _profile(v: V) -> tuple[list[tuple[float, float]], float]:
    t, lip = v["thickness"], v["lip_height"]
    a = math.radians(v["angle"])
    back = min(max(v["device_height"] * 0.45, 40.0), 160.0)
    f0x = t + v["device_thickness"] + SLOT_CLEARANCE_MM
    f1 = (f0x + back * math.cos(a), t + back * math.sin(a))
    b1 = (f1[0] + t * math.sin(a), f1[1] - t * math.cos(a))
    depth = b1[0] + 10.0
    pts = [
        (0.0, 0.0),
        (depth, 0.0),
        (depth, t),
        (b1[0], t),
        b1,
        f1,
        (f0x, t),
        (t, t),
        (t, t + lip),
        (0.0, t + lip),
    ]
    return [(round(x, 3), round(z, 3)) for x, z in pts], round(back, 3)


def _hole(v: V, pts: list[tuple[float, float]]) -> list[tuple[float, float]] | None:
    """Triangle under the backrest (between slab, back leg and base), or None if too small."""
    t, a = v["thickness"], math.radians(v["angle"])
    f0x, b1x = pts[6][0], pts[3][0]
    pa = (f0x + t / math.sin(a), t)
    pb = (b1x - t, t)
    s = (b1x - t - f0x - t * math.sin(a)) / math.cos(a)
    pc = (b1x - t, t - t * math.cos(a) + s * math.sin(a))
    if pb[0] - pa[0] < 6 or pc[1] - t < 6:
        return None
    return [(round(x, 3), round(z, 3)) for x, z in (pa, pb, pc)]


def _shoelace(pts: list[tuple[float, float]]) -> float:
    return (
        abs(
            sum(
                x0 * z1 - x1 * z0 for (x0, z0), (x1, z1) in zip(pts, pts[1:] + pts[:1], strict=True)
            )
        )
        / 2
    )


def derived(v: V) -> dict[str, Any]:
    pts, back = _profile(v)
    return {
        "profile": pts,
        "profile_hole": _hole(v, pts),
        "back_length": back,
        "depth": pts[1][0],
        "top_z": pts[5][1],
        "slot_width": round(v["device_thickness"] + SLOT_CLEARANCE_MM, 3),
        "cable_slot_x0": round(pts[7][0] + 1.0, 3),
        "cable_slot_x1": round(pts[1][0] + 1.0, 3),
        "cable_slot_height": round(v["thickness"] + 8.0, 3),
    }


def _lip(v: V) -> str | None:
    if v["lip_height"] > v["top_z"] - v["thickness"] - 5:
        return f"lip height {fmt(v['lip_height'])} mm must stay 5 mm below the backrest top"
    return None


def _slot(v: V) -> str | None:
    if v["cable_slot"] and v["cable_slot_width"] > v["width"] - 30:
        return (
            f"cable slot width {fmt(v['cable_slot_width'])} mm leaves less than 15 mm each side "
            f"of a {fmt(v['width'])} mm wide stand"
        )
    return None


def _tunnel(v: V) -> str | None:
    # the cable tunnel is cut up to cable_slot_height; the slot floor and wedge must cover it
    if v["cable_slot"] and v["cable_slot_height"] >= v["top_z"] - 3:
        return f"thickness {fmt(v['thickness'])} mm leaves no room for the cable tunnel under the backrest"
    return None


SHAPE = ("thickness", "lip_height", "angle", "device_height", "device_thickness")
RULES = (
    min_wall_rule("thickness"),
    Rule("lip_too_high", SHAPE, _lip),
    Rule("cable_slot_too_wide", ("cable_slot", "cable_slot_width", "width"), _slot),
    Rule("cable_tunnel_too_low", ("cable_slot", *SHAPE), _tunnel),
)


def geometry(v: V) -> GeometryMetrics:
    pts, w = v["profile"], v["width"]
    face = _shoelace(pts)
    perimeter = sum(math.dist(p, q) for p, q in zip(pts, pts[1:] + pts[:1], strict=True))
    if v["profile_hole"]:
        hole = v["profile_hole"]
        face -= _shoelace(hole)
        perimeter += sum(math.dist(p, q) for p, q in zip(hole, hole[1:] + hole[:1], strict=True))
    volume = face * w
    if v["cable_slot"]:
        volume -= (
            (v["cable_slot_x1"] - v["cable_slot_x0"])
            * v["cable_slot_height"]
            * v["cable_slot_width"]
        )
    return GeometryMetrics(
        volume_mm3=max(volume, 1.0),
        area_mm2=2 * face + perimeter * w,
        bbox_mm=(v["depth"], w, v["top_z"]),
    )


DEVICE_STAND = register(
    Family(
        key="device_stand",
        name="Phone / tablet stand",
        version=1,
        description="Desk stand for a phone or tablet at a chosen viewing angle, with cable slot.",
        category="home",
        processes=(Process.FDM,),
        params=(
            length(
                "device_thickness",
                "Device thickness",
                5,
                25,
                0.5,
                12,
                group="device",
                help="Including the case.",
            ),
            length("device_height", "Device height", 100, 330, 1, 180, group="device"),
            Number(
                name="angle",
                label="Angle from the desk",
                min=45,
                max=80,
                step=1,
                default=65,
                unit="deg",
                group="shape",
            ),
            length("width", "Width", 40, 250, 1, 80, group="shape"),
            length("thickness", "Wall thickness", 3, 10, 0.5, 4, group="shape"),
            length("lip_height", "Front lip height", 4, 30, 0.5, 10, group="shape"),
            Boolean(name="cable_slot", label="Cable slot", default=True, group="shape"),
            length("cable_slot_width", "Cable slot width", 6, 20, 0.5, 10, group="shape"),
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
