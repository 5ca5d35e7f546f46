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

VERSION = 1


def _grip(v: Mapping[str, Any]) -> tuple[int, float]:
    """(number of cuts, cut radius) for the grip style."""
    if v["grip"] == "fluted":
        return v["flutes"], v["flute_radius"]
    if v["grip"] == "ribbed":
        return v["rib_count"], v["flute_radius"] / 2
    return 0, 0.0


def _bore(v: Mapping[str, Any]) -> cq.Workplane:
    """Shaft bore from z=-1 to shaft_depth; with a D flat the solid side is at +X."""
    r, depth = v["shaft_diameter"] / 2, v["shaft_depth"]
    bore = cq.Workplane("XY", origin=(0, 0, -1)).circle(r).extrude(depth + 1)
    if v["d_flat"]:
        flat = v["flat_offset"]
        keep = cq.Workplane("XY", origin=(0, 0, -2)).center((flat - r - 1) / 2, 0)
        bore = bore.intersect(keep.rect(flat + r + 1, 2 * r + 2).extrude(depth + 3))
    return bore


def build_knob(v: Mapping[str, Any]) -> cq.Workplane:
    """Fillet the top edge first (on a plain cylinder it always succeeds), then cut."""
    d, h = v["diameter"], v["height"]
    body = cq.Workplane("XY").circle(d / 2).extrude(h)
    if v["top_fillet"] > 0:
        body = body.faces(">Z").edges().fillet(v["top_fillet"])
    count, cut_r = _grip(v)
    if count > 0 and cut_r > 0:
        pts = [
            (d / 2 * math.cos(2 * math.pi * k / count), d / 2 * math.sin(2 * math.pi * k / count))
            for k in range(count)
        ]
        cutters = cq.Workplane("XY", origin=(0, 0, -1)).pushPoints(pts).circle(cut_r).extrude(h + 2)
        body = body.cut(cutters)
    body = body.cut(_bore(v))
    if v["pointer"]:
        pw, pd = v["pointer_width"], v["pointer_depth"]
        groove = (
            cq.Workplane("XY", origin=(0, 0, h - pd))
            .center(d / 4 + 0.5, 0)
            .rect(d / 2 + 1, pw)
            .extrude(pd + 1)
        )
        body = body.cut(groove)
    return body


register_builder("knob", VERSION, build_knob)
