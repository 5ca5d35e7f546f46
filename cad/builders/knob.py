"""Knob builder: filleted cylinder, fluted/ribbed grip, D-shaft bore, pointer groove.

Follows the geometry contract in ``configurator/families/knob.py`` (axis Z, base on z=0;
printed base-down, so the bore opens onto the bed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cadquery as cq

from cad.build import register_builder
from cad.geom import as_shape, shapes

VERSION = 1


def _grip(v: Mapping[str, Any]) -> tuple[int, float]:
    """(number of cuts, cut radius) for the grip style."""
    if v["grip"] == "fluted":
        return v["flutes"], v["flute_radius"]
    if v["grip"] == "ribbed":
        return v["rib_count"], v["flute_radius"] / 2
    return 0, 0.0


def _bore(v: Mapping[str, Any]) -> cq.Solid:
    """Shaft bore from z=-1 to shaft_depth; with a D flat the solid side is at +X.

    Drawn as a 2D profile (arc + flat) and extruded: no boolean needed for the D.
    """
    r, depth = v["shaft_diameter"] / 2, v["shaft_depth"]
    if v["d_flat"]:
        f = v["flat_offset"]
        h = math.sqrt(r * r - f * f)
        edges = [
            cq.Edge.makeLine(cq.Vector(f, -h, 0), cq.Vector(f, h, 0)),
            cq.Edge.makeThreePointArc(cq.Vector(f, h, 0), cq.Vector(-r, 0, 0), cq.Vector(f, -h, 0)),
        ]
        wire = cq.Wire.assembleEdges(edges)
    else:
        wire = cq.Wire.makeCircle(r, cq.Vector(0, 0, 0), cq.Vector(0, 0, 1))
    face = cq.Face.makeFromWires(wire).translate(cq.Vector(0, 0, -1))
    return cq.Solid.extrudeLinear(face, cq.Vector(0, 0, depth + 1))


def build_knob(v: Mapping[str, Any]) -> cq.Shape:
    """Fillet the top edge of a plain cylinder (always succeeds), then ONE cut with every
    tool (flutes, bore, pointer groove): a single boolean is much faster than one per tool."""
    d, h = v["diameter"], v["height"]
    body = cq.Workplane("XY").circle(d / 2).extrude(h)
    if v["top_fillet"] > 0:
        body = body.faces(">Z").edges().fillet(v["top_fillet"])
    tools: list[cq.Shape] = [_bore(v)]
    count, cut_r = _grip(v)
    if count > 0 and cut_r > 0:
        pts = [
            (d / 2 * math.cos(2 * math.pi * k / count), d / 2 * math.sin(2 * math.pi * k / count))
            for k in range(count)
        ]
        flutes = cq.Workplane("XY", origin=(0, 0, -1)).pushPoints(pts).circle(cut_r).extrude(h + 2)
        tools += shapes(flutes.solids())
    if v["pointer"]:
        pw, pd = v["pointer_width"], v["pointer_depth"]
        groove = (
            cq.Workplane("XY", origin=(0, 0, h - pd))
            .center(d / 4 + 0.5, 0)
            .rect(d / 2 + 1, pw)
            .extrude(pd + 1)
        )
        tools.append(as_shape(groove.val()))
    return as_shape(body.val()).cut(*tools)


register_builder("knob", VERSION, build_knob)
