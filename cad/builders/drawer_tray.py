"""Drawer tray builder: rounded open box with full-height dividers on a grid.

Follows the geometry contract in ``configurator/families/drawer_tray.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cadquery as cq

from cad.build import register_builder
from cad.builders._common import rounded_prism

VERSION = 1


def build_drawer_tray(v: Mapping[str, Any]) -> cq.Workplane:
    """Outer shell minus cavity, plus dividers that reach half a wall into the outer walls."""
    ln, w, h, wall, fl = v["length"], v["width"], v["height"], v["wall"], v["floor_thickness"]
    r = v["corner_radius"]
    body = rounded_prism(ln, w, h, r).cut(
        rounded_prism(ln - 2 * wall, w - 2 * wall, h, max(r - wall, 0.0), z0=fl)
    )
    span_x, span_y, tall = ln - wall, w - wall, h - fl
    dividers = [((x, 0), (wall, span_y)) for x in v["divider_x"]]
    dividers += [((0, y), (span_x, wall)) for y in v["divider_y"]]
    if not dividers:
        return body
    sk = cq.Sketch()
    for (cx, cy), (sx, sy) in dividers:
        sk = sk.push([(cx, cy)]).rect(sx, sy).reset()
    grid = cq.Workplane("XY", origin=(0, 0, fl - 0.01)).placeSketch(sk.clean()).extrude(tall + 0.01)
    return body.union(grid)


register_builder("drawer_tray", VERSION, build_drawer_tray)
