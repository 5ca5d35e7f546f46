"""Involute spur gear (20° pressure angle) with optional bore, keyway and hub.

Geometry contract for cad/builders/spur_gear.py (mm; gear axis = Z, gear face on z = 0):
- teeth: module, teeth, pressure_angle_deg, face_width thick (z in [0, face_width]);
  pitch_diameter, tip_diameter, root_diameter as derived;
- hub (if hub): cylinder hub_diameter, z in [face_width, face_width + hub_length];
- bore (if bore > 0): through everything; keyway (if keyway): slot keyway_width wide from the
  axis to radius bore/2 + keyway_depth, along +X, through everything.

Few teeth: below 17 teeth (at 20°) a hobbed gear is undercut. cad/ draws no undercut and no
profile shift: below the base circle the flank runs radially to the root. The solid is valid
and meshes, but slightly differently from a hobbed gear with the same module and teeth.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any, NamedTuple

from configurator.errors import DataFileError
from configurator.families._common import (
    colour_param,
    cylinder_volume,
    material_param,
    process_param,
)
from configurator.family import Family
from configurator.materials import get_material
from configurator.model import GeometryMetrics
from configurator.params import Boolean, Integer, NumberChoice, length
from configurator.process_limits import process_floor_mm, tooth_wall_fraction
from configurator.processes import Process
from configurator.registry import register
from configurator.rules import Rule, fmt

V = Mapping[str, Any]
MAX_TIP_MM = 300.0


class Keyway(NamedTuple):
    """One DIN 6885 row: bores below ``bore_below_mm`` get this key width and hub slot depth."""

    bore_below_mm: float
    width_mm: float
    depth_mm: float


def parse_keyways(text: str) -> tuple[Keyway, ...]:
    """Parse a keyway TOML document (rows in ascending bore order)."""
    doc: dict[str, Any] = tomllib.loads(text)
    try:
        rows = tuple(
            Keyway(float(r["bore_below_mm"]), float(r["width_mm"]), float(r["depth_mm"]))
            for r in doc["keyway"]
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DataFileError(f"keyways.toml: {exc!r}") from exc
    if not rows or any(a.bore_below_mm >= b.bore_below_mm for a, b in pairwise(rows)):
        raise DataFileError("keyways.toml: needs rows in ascending order of bore_below_mm")
    return rows


@cache
def keyway_table() -> tuple[Keyway, ...]:
    """DIN 6885 parallel keys from data/keyways.toml (loaded once)."""
    text = resources.files("configurator").joinpath("data/keyways.toml").read_text("utf-8")
    return parse_keyways(text)


def keyway_size(bore: float) -> tuple[float, float]:
    """(width, depth) of the hub keyway for a bore, per DIN 6885."""
    table = keyway_table()
    for row in table:
        if bore < row.bore_below_mm:
            return row.width_mm, row.depth_mm
    return table[-1].width_mm, table[-1].depth_mm  # pragma: no cover


def derived(v: V) -> dict[str, Any]:
    m, z = v["module"], v["teeth"]
    kw, kd = keyway_size(v["bore"]) if v["keyway"] else (0.0, 0.0)
    return {
        "pressure_angle_deg": 20.0,
        "pitch_diameter": round(m * z, 4),
        "tip_diameter": round(m * (z + 2), 4),
        "root_diameter": round(m * (z - 2.5), 4),
        "tooth_thickness": round(math.pi * m / 2, 4),
        "keyway_width": kw,
        "keyway_depth": kd,
        "rim": max(2.0 * m, 1.5),
    }


def _min_wall(v: V) -> float:
    return get_material(v["material"]).min_wall(Process(v["process"]))


def _inv(angle: float) -> float:
    return math.tan(angle) - angle


def tooth_chord(module: float, teeth: int, radius: float, pressure_deg: float = 20.0) -> float:
    """Arc thickness of an involute tooth (no profile shift) at `radius`, in mm."""
    alpha = math.radians(pressure_deg)
    base = module * teeth / 2 * math.cos(alpha)
    at = math.acos(min(1.0, base / radius))
    return 2 * radius * (math.pi / (2 * teeth) + _inv(alpha) - _inv(at))


def tooth_wall(v: V) -> float:
    """The tooth's wall as DFM measures it: its thickness near the top of the addendum
    (where, is data: process_limits.toml [gear]), not at the pitch circle."""
    m, z = v["module"], v["teeth"]
    return tooth_chord(m, z, m * z / 2 + tooth_wall_fraction() * m, v["pressure_angle_deg"])


def _tooth(v: V) -> str | None:
    need = _min_wall(v)
    mat = get_material(v["material"]).name
    advice = "choose a larger module"
    if v["tooth_thickness"] < need:
        return (
            f"module {fmt(v['module'])} gives {fmt(v['tooth_thickness'])} mm teeth, below the "
            f"{fmt(need)} mm minimum wall for {mat} on {v['process'].upper()}; {advice}"
        )
    floor, wall = process_floor_mm(v["process"]), tooth_wall(v)
    if wall < floor:
        return (
            f"module {fmt(v['module'])} with {v['teeth']} teeth narrows the teeth to "
            f"{fmt(wall)} mm near the tip; {v['process'].upper()} cannot make walls under "
            f"{fmt(floor)} mm; {advice}"
        )
    return None


def _size(v: V) -> str | None:
    if v["tip_diameter"] > MAX_TIP_MM:
        return (
            f"module {fmt(v['module'])} x {v['teeth']} teeth gives a {fmt(v['tip_diameter'])} mm "
            f"tip diameter; the maximum is {fmt(MAX_TIP_MM)} mm"
        )
    return None


def _bore_min(v: V) -> str | None:
    if 0 < v["bore"] < 2:
        return f"bore {fmt(v['bore'])} mm must be 0 (no bore) or at least 2 mm"
    if v["keyway"] and v["bore"] < 6:
        return f"a keyway needs a bore of at least 6 mm (bore is {fmt(v['bore'])} mm)"
    return None


def _bore_root(v: V) -> str | None:
    limit = v["root_diameter"] / 2 - max(v["rim"], _min_wall(v))
    used = v["bore"] / 2 + v["keyway_depth"]
    if v["bore"] > 0 and used > limit:
        what = "bore radius plus keyway depth" if v["keyway"] else "bore radius"
        return (
            f"bore {fmt(v['bore'])} mm is too large: {what} {fmt(used)} mm exceeds "
            f"{fmt(max(limit, 0))} mm (root radius {fmt(v['root_diameter'] / 2)} mm minus a "
            f"{fmt(max(v['rim'], _min_wall(v)))} mm rim for module {fmt(v['module'])}, {v['teeth']} teeth)"
        )
    return None


def _hub(v: V) -> str | None:
    if not v["hub"]:
        return None
    wall = max(2.0, _min_wall(v))
    low = v["bore"] + 2 * v["keyway_depth"] + 2 * wall
    if v["hub_diameter"] < low:
        return f"hub diameter {fmt(v['hub_diameter'])} mm must be at least {fmt(low)} mm around the bore"
    if v["hub_diameter"] > v["root_diameter"]:
        return (
            f"hub diameter {fmt(v['hub_diameter'])} mm must not exceed the root diameter "
            f"{fmt(v['root_diameter'])} mm (module {fmt(v['module'])}, {v['teeth']} teeth)"
        )
    return None


TEETH = ("module", "teeth")
RULES = (
    Rule("tooth_below_min_wall", ("module", "teeth", "material", "process"), _tooth),
    Rule("gear_too_large", TEETH, _size),
    Rule("bore_too_small", ("bore", "keyway"), _bore_min),
    Rule("bore_too_large", ("bore", "keyway", *TEETH, "material", "process"), _bore_root),
    Rule(
        "hub_size", ("hub_diameter", "hub", "bore", "keyway", *TEETH, "material", "process"), _hub
    ),
)


def geometry(v: V) -> GeometryMetrics:
    face, hub_len = v["face_width"], v["hub_length"] if v["hub"] else 0.0
    body = cylinder_volume(v["pitch_diameter"], face)
    hub = cylinder_volume(v["hub_diameter"], hub_len) if v["hub"] else 0.0
    bore = cylinder_volume(v["bore"], face + hub_len)
    tooth_flanks = 2 * v["teeth"] * 2.25 * v["module"] * face
    # tip and root lands take about half the pitch circle; the hub adds its side
    lands = math.pi * v["pitch_diameter"] / 2 * face
    hub_side = math.pi * v["hub_diameter"] * hub_len if v["hub"] else 0.0
    area = (
        2 * math.pi * v["tip_diameter"] ** 2 / 4
        + tooth_flanks
        + lands
        + hub_side
        + math.pi * v["bore"] * (face + hub_len)
    )
    tip = v["tip_diameter"]
    return GeometryMetrics(
        volume_mm3=body + hub - bore, area_mm2=area, bbox_mm=(tip, tip, face + hub_len)
    )


SPUR_GEAR = register(
    Family(
        key="spur_gear",
        name="Spur gear",
        version=1,
        description="Involute spur gear, 20° pressure angle, with bore, DIN 6885 keyway and hub.",
        category="mechanical",
        processes=(Process.FDM, Process.RESIN, Process.CNC),
        params=(
            NumberChoice(
                name="module",
                label="Module",
                options=(0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0),
                default=1.5,
                unit="mm",
                group="teeth",
            ),
            Integer(
                name="teeth",
                label="Teeth",
                min=10,
                max=150,
                default=24,
                group="teeth",
                help="Below 17 teeth (20° pressure angle) the flank is drawn without undercut "
                "(radial below the base circle), so it meshes slightly differently from a "
                "hobbed gear.",
            ),
            length("face_width", "Face width", 2, 60, 0.5, 8, group="teeth"),
            length("bore", "Bore", 0, 80, 0.1, 5, group="shaft", help="0 for no bore."),
            Boolean(name="keyway", label="Keyway", default=False, group="shaft"),
            Boolean(name="hub", label="Hub", default=True, group="shaft"),
            length("hub_diameter", "Hub diameter", 6, 150, 0.5, 15, group="shaft"),
            length("hub_length", "Hub length", 2, 40, 0.5, 6, group="shaft"),
            process_param(Process.FDM, Process.RESIN, Process.CNC),
            material_param("pla", "petg", "abs", "resin", "aluminium_6061"),
            colour_param(),
        ),
        derived=derived,
        rules=RULES,
        geometry=geometry,
        max_qty=2000,
    )
)
