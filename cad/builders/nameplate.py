"""Nameplate builder: plate with engraved or raised text and mounting holes.

Follows the geometry contract in ``configurator/families/nameplate.py``. Text uses the font
DejaVu Sans Bold (``/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf``, Debian package
fonts-dejavu-core), centred on the top face. Text is user data passed to the font engine
as a string, never interpreted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cadquery as cq

from cad.build import GeometryError, register_builder
from cad.builders._common import rounded_prism

VERSION = 1
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_NAME = "DejaVu Sans Bold"


def _text(v: Mapping[str, Any], z: float, distance: float) -> cq.Workplane:
    if not Path(FONT_PATH).is_file():
        raise GeometryError(f"font {FONT_NAME} missing at {FONT_PATH} (install fonts-dejavu-core)")
    return cq.Workplane("XY", origin=(0, 0, z)).text(
        v["text"], v["text_height"], distance, fontPath=FONT_PATH, font=FONT_NAME,
        halign="center", valign="center", combine=False,
    )  # fmt: skip


def build_nameplate(v: Mapping[str, Any]) -> cq.Workplane:
    """Plate (holes cut), then text engraved into or raised on the top face."""
    t, depth = v["thickness"], v["text_depth"]
    plate = rounded_prism(v["width"], v["height"], t, v["corner_radius"])
    if v["hole_positions"]:
        holes = (
            cq.Workplane("XY", origin=(0, 0, -1))
            .pushPoints([tuple(p) for p in v["hole_positions"]])
            .circle(v["hole_diameter"] / 2)
            .extrude(t + 2)
        )
        plate = plate.cut(holes)
    if not v["text"].strip():
        return plate
    if v["style"] == "raised":
        return plate.union(_text(v, t - 0.01, depth + 0.01))
    return plate.cut(_text(v, t - depth, depth + 1))


register_builder("nameplate", VERSION, build_nameplate, font=FONT_NAME)
