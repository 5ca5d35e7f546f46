"""Nameplate builder: plate with engraved or raised text and mounting holes.

Follows the geometry contract in ``configurator/families/nameplate.py``. Text goes through
``cad/text.py`` (bidi order, HarfBuzz shaping, DejaVu Sans Bold for Latin and Noto Naskh Arabic
Bold for Arabic script), centred on the top face. Its outline is united in 2D first, so the
boolean gets disjoint prisms (joined Arabic letters overlap, as fonts draw them). Text is user
data handed to the shaper as code points, never interpreted.

v2: shaped text (Urdu read backwards, unjoined and with empty boxes in v1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cadquery as cq
from shapely.geometry import MultiPolygon

from cad import text as shaping
from cad.build import GeometryError, register_builder
from cad.builders._common import rounded_prism
from cad.geom import as_shape

VERSION = 2
FONT_NAME = shaping.FONT_NAMES


def _wire(coords: Any, z: float) -> cq.Wire:
    pts = [cq.Vector(x, y, z) for x, y in list(coords)[:-1]]
    return cq.Wire.makePolygon(pts, close=True)


def prisms(outline: MultiPolygon, z: float, height: float) -> list[cq.Solid]:
    """One prism per polygon of ``outline`` (holes kept), from z up by ``height``."""
    out = []
    for poly in outline.geoms:
        face = cq.Face.makeFromWires(
            _wire(poly.exterior.coords, z), [_wire(r.coords, z) for r in poly.interiors]
        )
        out.append(cq.Solid.extrudeLinear(face, cq.Vector(0, 0, height)))
    return out


def text_outline(v: Mapping[str, Any]) -> MultiPolygon:
    """The shaped text's outline in mm on the plate (centred), checked to fit."""
    try:
        outline = shaping.text_polygons(v["text"], v["text_height"])
    except (shaping.FontMissing, ValueError) as exc:
        raise GeometryError(str(exc)) from exc
    _check_text_fits(outline, v)
    return outline


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
    outline = text_outline(v)
    raised = v["style"] == "raised"
    glyphs = (
        prisms(outline, t - 0.01, depth + 0.01) if raised else prisms(outline, t - depth, depth + 1)
    )
    base = as_shape(plate.val())
    return base.fuse(*glyphs) if raised else base.cut(*glyphs)


def _check_text_fits(outline: MultiPolygon, v: Mapping[str, Any]) -> None:
    """Real glyph extents must stay on the plate (the configurator only estimates them)."""
    if outline.is_empty:
        raise GeometryError(f"the fonts ({FONT_NAME}) produced no outline for the text")
    xmin, ymin, xmax, ymax = outline.bounds
    half_w, half_h = v["width"] / 2, v["height"] / 2
    if xmin < -half_w or xmax > half_w or ymin < -half_h or ymax > half_h:
        raise GeometryError(
            f"text is {xmax - xmin:.1f} x {ymax - ymin:.1f} mm in {FONT_NAME} and does not fit "
            f"on the {v['width']:g} x {v['height']:g} mm plate; shorten it or lower the text height"
        )


register_builder("nameplate", VERSION, build_nameplate, font=FONT_NAME)
