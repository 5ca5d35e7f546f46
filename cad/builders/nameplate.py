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
from cad.geom import as_shape, fast_bbox, shapes

VERSION = 1
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_NAME = "DejaVu Sans Bold"


def _text(v: Mapping[str, Any], z: float, distance: float) -> cq.Workplane:
    if not Path(FONT_PATH).is_file():
        raise GeometryError(f"font {FONT_NAME} missing at {FONT_PATH} (install fonts-dejavu-core)")
    return cq.Workplane("XY", origin=(0, 0, z)).text(
        v["text"],
        v["text_height"],
        distance,
        fontPath=FONT_PATH,
        font=FONT_NAME,
        halign="center",
        valign="center",
        combine=False,
    )


def build_nameplate(v: Mapping[str, Any]) -> cq.Workplane | cq.Shape:
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
    raised = v["style"] == "raised"
    text = _text(v, t - 0.01, depth + 0.01) if raised else _text(v, t - depth, depth + 1)
    _check_text_fits(text, v)
    # Some glyph solids come out of the font with face orientations that make a one-shot
    # boolean leave the glyph behind as a loose island (hypothesis found 'x' in DejaVu Sans
    # Bold at 21.5 mm); ShapeFix on each glyph first makes the cut and the union reliable.
    glyphs = [g.fix() for c in shapes(text) for g in c.Solids()]
    base = as_shape(plate.val())
    return base.fuse(*glyphs) if raised else base.cut(*glyphs)


def _check_text_fits(text: cq.Workplane, v: Mapping[str, Any]) -> None:
    """Real glyph extents must stay on the plate (the configurator only estimates them)."""
    solids = shapes(text)
    if not solids:
        raise GeometryError(f"the font {FONT_NAME} produced no outline for the text")
    bb = fast_bbox(cq.Compound.makeCompound(solids))
    half_w, half_h = v["width"] / 2, v["height"] / 2
    if bb.xmin < -half_w or bb.xmax > half_w or bb.ymin < -half_h or bb.ymax > half_h:
        raise GeometryError(
            f"text is {bb.xlen:.1f} x {bb.ylen:.1f} mm in {FONT_NAME} and does not fit on the "
            f"{v['width']:g} x {v['height']:g} mm plate; shorten it or lower the text height"
        )


register_builder("nameplate", VERSION, build_nameplate, font=FONT_NAME)
