"""L-bracket builder: L profile extruded by the width, optional gusset, screw holes.

Follows the geometry contract in ``configurator/families/bracket.py`` (origin at the outer
corner). The L is drawn in XZ and extruded along Y, then laid on its side for printing: the
L profile on the bed (XY) and the width up Z, so layer lines run along both legs and the
root of the L, where the rated load bends it, is not loaded across layers. This is also
the orientation the configurator's bbox (shelf leg, wall leg, width) promises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cadquery as cq

from cad.build import register_builder

VERSION = 2  # v2: laid on its side (v1 stood the wall leg up along Z)


def _xz_prism(points: list[tuple[float, float]], y0: float, width: float) -> cq.Workplane:
    """Closed (x, z) polygon extruded over y in [y0, y0 + width]."""
    # The XZ workplane's normal is -Y, so extrude then shift to land on [y0, y0 + width].
    return cq.Workplane("XZ").polyline(points).close().extrude(width).translate((0, y0 + width, 0))


def build_bracket(v: Mapping[str, Any]) -> cq.Workplane:
    """L profile + gusset, then holes through both legs."""
    t, a, b, w = v["thickness"], v["shelf_leg_length"], v["wall_leg_length"], v["width"]
    part = _xz_prism([(0, 0), (a, 0), (a, t), (t, t), (t, b), (0, b)], 0.0, w)
    if v["gusset"]:
        g, gt = v["gusset_size"], v["gusset_thickness"]
        tri = [(t - 0.01, t - 0.01), (t + g, t - 0.01), (t - 0.01, t + g)]  # overlap the legs
        part = part.union(_xz_prism(tri, w / 2 - gt / 2, gt))
    r = v["hole_diameter"] / 2
    ys = v["hole_y_positions"]
    offsets = v["hole_offsets"]
    shelf = (
        cq.Workplane("XY", origin=(0, 0, -1))
        .pushPoints([(x, y) for x in offsets for y in ys])
        .circle(r)
        .extrude(t + 2)
    )
    wall = (
        cq.Workplane("YZ", origin=(-1, 0, 0))
        .pushPoints([(y, z) for z in offsets for y in ys])
        .circle(r)
        .extrude(t + 2)
    )
    return _on_its_side(part.cut(shelf).cut(wall), w)


def _on_its_side(part: cq.Workplane, width: float) -> cq.Workplane:
    """(x, y, z) -> (x, z, width - y): the profile on the bed, the width along +Z."""
    return part.rotate((0, 0, 0), (1, 0, 0), -90).translate((0, 0, width))


register_builder("bracket", VERSION, build_bracket)
