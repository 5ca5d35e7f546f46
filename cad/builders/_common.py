"""Geometry helpers shared by builders (all mm, Z up, parts standing on the XY plane)."""

from __future__ import annotations

import cadquery as cq

from cad.geom import fast_bbox

PLATE_GAP_MM = 5.0


def rounded_prism(
    length: float, width: float, height: float, radius: float, z0: float = 0.0
) -> cq.Workplane:
    """Box length x width x height centred on XY, from z0 up, vertical edges rounded."""
    sk = cq.Sketch().rect(length, width)
    r = min(radius, min(length, width) / 2 - 1e-3)
    if r > 1e-3:
        sk = sk.vertices().fillet(r)
    return cq.Workplane("XY", origin=(0, 0, z0)).placeSketch(sk).extrude(height)


def beside(first: cq.Shape, second: cq.Shape, gap: float = PLATE_GAP_MM) -> cq.Shape:
    """Lay ``second`` next to ``first`` along +Y on the same plate (a documented assembly)."""
    a, b = fast_bbox(first), fast_bbox(second)
    moved = second.translate(cq.Vector(0, a.ymax + gap - b.ymin, -b.zmin))
    return cq.Compound.makeCompound([*first.Solids(), *moved.Solids()])
