"""Plate pipe flange builder: disc, optional slip-on bore, bolt circle holes.

Follows the geometry contract in ``configurator/families/pipe_flange.py`` (axis = Z).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cadquery as cq

from cad.build import register_builder

VERSION = 1


def build_pipe_flange(v: Mapping[str, Any]) -> cq.Workplane:
    """Disc of outer_diameter; bore and bolt holes cut in one 2D profile before extruding."""
    n = v["bolt_count"]
    rb = v["bolt_circle_diameter"] / 2
    a0 = math.radians(v["first_bolt_angle_deg"])
    holes = [
        (rb * math.cos(a0 + 2 * math.pi * k / n), rb * math.sin(a0 + 2 * math.pi * k / n))
        for k in range(n)
    ]
    sk = cq.Sketch().circle(v["outer_diameter"] / 2)
    if v["bore_diameter"] > 0:
        sk = sk.circle(v["bore_diameter"] / 2, mode="s")
    sk = sk.push(holes).circle(v["bolt_hole_diameter"] / 2, mode="s")
    return cq.Workplane("XY").placeSketch(sk).extrude(v["thickness"])


register_builder("pipe_flange", VERSION, build_pipe_flange)
