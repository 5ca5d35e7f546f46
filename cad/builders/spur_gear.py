"""Spur gear builder: exact involute flanks (B-spline through sampled involute points).

Follows the geometry contract in ``configurator/families/spur_gear.py`` (axis Z, gear face
on z=0). The 2D outline is assembled edge by edge (radial line below the base circle when
the root is inside it, involute spline, tip arc, mirrored flank, root arc) and extruded
once, which is far faster than cutting tooth gaps one by one. No undercut modelling: the
configurator's 10-tooth minimum keeps the flanks from crossing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cadquery as cq

from cad.build import GeometryError, register_builder

VERSION = 1
FLANK_POINTS = 7


def _inv(a: float) -> float:
    return math.tan(a) - a


def _polar(r: float, ang: float) -> cq.Vector:
    return cq.Vector(r * math.cos(ang), r * math.sin(ang), 0)


def gear_outline(module: float, teeth: int, pressure_deg: float) -> cq.Wire:
    """Closed outline of the gear in the XY plane, tooth 0 centred on +X."""
    rp = module * teeth / 2
    rb = rp * math.cos(math.radians(pressure_deg))
    ra, rf = rp + module, rp - 1.25 * module
    psi = math.pi / (2 * teeth) + _inv(math.radians(pressure_deg))

    def half(r: float) -> float:  # half tooth angle at radius r >= rb
        return psi - _inv(math.acos(min(1.0, rb / r)))

    r0 = max(rb, rf)
    if half(ra) <= 0.002:
        raise GeometryError(f"pointed teeth: {teeth} teeth of module {module} have no tip land")
    radii = [r0 + (ra - r0) * (i / (FLANK_POINTS - 1)) ** 1.5 for i in range(FLANK_POINTS)]
    pitch = 2 * math.pi / teeth
    edges: list[cq.Edge] = []
    for i in range(teeth):
        c = i * pitch
        lo = [_polar(r, c - half(r)) for r in radii]
        hi = [_polar(r, c + half(r)) for r in reversed(radii)]
        if rf < rb:
            edges.append(cq.Edge.makeLine(_polar(rf, c - half(rb)), lo[0]))
        edges.append(cq.Edge.makeSpline(lo))
        edges.append(cq.Edge.makeThreePointArc(lo[-1], _polar(ra, c), hi[0]))
        edges.append(cq.Edge.makeSpline(hi))
        start = hi[-1]
        if rf < rb:
            start = _polar(rf, c + half(rb))
            edges.append(cq.Edge.makeLine(hi[-1], start))
        nxt = c + pitch
        end = _polar(rf, nxt - half(rb)) if rf < rb else _polar(r0, nxt - half(r0))
        edges.append(cq.Edge.makeThreePointArc(start, _polar(rf, c + pitch / 2), end))
    # close exactly: the last root arc must end where the first edge starts
    return cq.Wire.assembleEdges(edges)


def bore_wire(bore: float, key_width: float = 0.0, reach: float = 0.0) -> cq.Wire:
    """Bore circle, or bore with a keyway slot along +X reaching ``reach`` from the axis."""
    r = bore / 2
    if key_width <= 0:
        return cq.Wire.makeCircle(r, cq.Vector(0, 0, 0), cq.Vector(0, 0, 1))
    h = key_width / 2
    x = math.sqrt(r * r - h * h)
    pts = [cq.Vector(x, h, 0), cq.Vector(reach, h, 0), cq.Vector(reach, -h, 0), cq.Vector(x, -h, 0)]
    edges = [cq.Edge.makeLine(a, b) for a, b in zip(pts, pts[1:], strict=False)]
    edges.append(cq.Edge.makeThreePointArc(pts[-1], cq.Vector(-r, 0, 0), pts[0]))
    return cq.Wire.assembleEdges(edges)


def _prism(outer: cq.Wire, inner: cq.Wire | None, z0: float, height: float) -> cq.Solid:
    face = cq.Face.makeFromWires(outer, [inner] if inner is not None else [])
    return cq.Solid.extrudeLinear(face.translate(cq.Vector(0, 0, z0)), cq.Vector(0, 0, height))


def build_spur_gear(v: Mapping[str, Any]) -> cq.Shape:
    """Toothed disc and hub as 2D faces (bore and keyway already in them), one fuse."""
    face = v["face_width"]
    outline = gear_outline(v["module"], v["teeth"], v["pressure_angle_deg"])
    bore = None
    if v["bore"] > 0:
        reach = v["bore"] / 2 + v["keyway_depth"] if v["keyway"] else 0.0
        bore = bore_wire(v["bore"], v["keyway_width"] if v["keyway"] else 0.0, reach)
    gear = _prism(outline, bore, 0.0, face)
    if not v["hub"]:
        return gear
    circle = cq.Wire.makeCircle(v["hub_diameter"] / 2, cq.Vector(0, 0, 0), cq.Vector(0, 0, 1))
    hub = _prism(circle, bore, face, v["hub_length"])
    return gear.fuse(hub)  # no clean(): merging the coplanar annulus costs more than it saves


register_builder("spur_gear", VERSION, build_spur_gear)
